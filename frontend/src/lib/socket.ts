/**
 * One multiplexed WebSocket to /ws/ for the whole app.
 *
 * Components subscribe to server groups (e.g. "audit") with `useSubscription`.
 * The client keeps one socket, (re)subscribes every group that has listeners,
 * reconnects with capped exponential backoff and jitter, and watches each
 * group's `seq`: when a number is skipped (or the server's current seq after a
 * resubscribe differs from the last one we saw) events were lost, so the
 * group's resync callbacks run and the page refetches a snapshot.
 *
 * Protocol (see the WebSocket section of docs/api.md):
 *   client → server  {"type":"subscribe","group":g} | {"type":"unsubscribe","group":g} | {"type":"ping"}
 *   server → client  {"type":"subscribed","group":g,"seq":n} | {"type":"error","group":g,"data":{"detail":…}}
 *                    | {"type":"subscription.revoked","group":g,"data":{"detail":…}}
 *                    | {"type":"session.ended","data":{"detail":…}} (a 4401 close follows)
 *                    | {"type":"pong"} | {"type":"<event>","group":g,"seq":n,"data":{…}}
 * `subscription.revoked` means access to the group ended (removed from the workspace, role
 * lowered): the group is dropped, never resubscribed, and its handlers refetch (the API then
 * answers what the user may see now). Close code 4403 (forbidden origin) is final; so is 4401
 * (not authenticated), except that a socket that had been working is retried once: its session
 * may have been replaced (a password change rotates it) rather than ended.
 */
import { useEffect, useRef, useSyncExternalStore } from 'react';

export type SocketState = 'connecting' | 'open' | 'closed';

export interface SocketEvent<D = unknown> {
  type: string;
  group: string;
  seq: number;
  data: D;
}

export interface GroupHandlers {
  onEvent: (event: SocketEvent) => void;
  /** Events may have been missed: refetch the snapshot this group feeds. */
  onResync?: () => void;
  onError?: (detail: string) => void;
  /** Access to the group ended; the client has dropped it. Defaults to `onResync`. */
  onRevoked?: () => void;
  /**
   * The subscription is live: the server acknowledged it (or already had, when these handlers
   * joined a live group). A snapshot taken before this moment may miss events published in
   * between; a page whose data predates its subscription (a row cached from a create's answer)
   * refetches here.
   */
  onSubscribed?: () => void;
}

/** The subset of the browser WebSocket the client uses; tests pass a fake. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface SocketOptions {
  url: string;
  createSocket?: WebSocketFactory;
  /** Called on close code 4401: the session is gone. */
  onUnauthorized?: () => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  pingIntervalMs?: number;
  /** No message at all for this long means the connection is dead. */
  idleTimeoutMs?: number;
  random?: () => number;
}

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN_ORIGIN = 4403;
const OPEN = 1;

interface GroupState {
  handlers: Set<GroupHandlers>;
  lastSeq: number | null;
  /** The server has acknowledged the subscription on some socket. */
  acked: boolean;
  /** Handlers added since, waiting for the acknowledgement (their `onSubscribed`). */
  waiting: Set<GroupHandlers>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export class SocketClient {
  private readonly opts: Required<Omit<SocketOptions, 'onUnauthorized'>> &
    Pick<SocketOptions, 'onUnauthorized'>;
  private ws: WebSocketLike | null = null;
  private readonly groups = new Map<string, GroupState>();
  private readonly listeners = new Set<() => void>();
  private stateValue: SocketState = 'closed';
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastMessageAt = 0;
  /** Set by stop() and by final close codes: do not reconnect. */
  private stopped = true;
  /** The close code that made the client give up, if any. */
  finalCloseCode: number | null = null;
  /** The current socket has heard from the server (so it was authenticated). */
  private heard = false;

  constructor(options: SocketOptions) {
    this.opts = {
      createSocket: (url) => new WebSocket(url),
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      pingIntervalMs: 25_000,
      idleTimeoutMs: 60_000,
      random: Math.random,
      ...options,
    };
  }

  get state(): SocketState {
    return this.stateValue;
  }

  /** For useSyncExternalStore. */
  subscribeState = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getState = (): SocketState => this.stateValue;

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.finalCloseCode = null;
    this.attempt = 0;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.onopen = null;
      ws.onerror = null;
      ws.close(1000, 'client stop');
    }
    this.setState('closed');
  }

  /** Adds handlers for a group; returns the function that removes them. */
  subscribe(group: string, handlers: GroupHandlers): () => void {
    let state = this.groups.get(group);
    if (!state) {
      state = { handlers: new Set(), lastSeq: null, acked: false, waiting: new Set() };
      this.groups.set(group, state);
      this.send({ type: 'subscribe', group });
    }
    state.handlers.add(handlers);
    if (!state.acked) state.waiting.add(handlers);
    else if (handlers.onSubscribed) {
      const live = state;
      queueMicrotask(() => {
        if (live.handlers.has(handlers)) handlers.onSubscribed?.();
      });
    }
    return () => {
      const current = this.groups.get(group);
      if (!current) return;
      current.handlers.delete(handlers);
      current.waiting.delete(handlers);
      if (current.handlers.size === 0) {
        this.groups.delete(group);
        this.send({ type: 'unsubscribe', group });
      }
    };
  }

  /** Delay before reconnect attempt number `attempt` (0-based): equal jitter, capped. */
  backoffDelay(attempt: number): number {
    const exp = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** attempt);
    return Math.round(exp / 2 + (this.opts.random() * exp) / 2);
  }

  private setState(next: SocketState): void {
    if (next === this.stateValue) return;
    this.stateValue = next;
    for (const listener of this.listeners) listener();
  }

  private send(message: Record<string, unknown>): boolean {
    if (this.ws && this.ws.readyState === OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false; // sent on (re)connect instead
  }

  private connect(): void {
    this.setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = this.opts.createSocket(this.opts.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.heard = false;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastMessageAt = Date.now();
      this.setState('open');
      for (const group of this.groups.keys()) this.send({ type: 'subscribe', group });
      this.startPing();
    };
    ws.onmessage = (ev) => this.handleMessage(ev.data);
    ws.onerror = () => {
      // A close event always follows; reconnect happens there.
    };
    ws.onclose = (ev) => this.handleClose(ev.code);
  }

  private handleClose(code: number): void {
    this.ws = null;
    this.clearTimers();
    if (this.stopped) {
      this.setState('closed');
      return;
    }
    if (code === CLOSE_UNAUTHORIZED && this.heard) {
      // A working socket lost its session: retry once (with the cookie the browser has now);
      // a socket refused before it heard anything is final.
      this.scheduleReconnect();
      return;
    }
    if (code === CLOSE_UNAUTHORIZED || code === CLOSE_FORBIDDEN_ORIGIN) {
      this.stopped = true;
      this.finalCloseCode = code;
      this.setState('closed');
      if (code === CLOSE_UNAUTHORIZED) this.opts.onUnauthorized?.();
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.setState('connecting');
    const delay = this.backoffDelay(this.attempt);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  private startPing(): void {
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastMessageAt > this.opts.idleTimeoutMs) {
        // Half-open connection: force a close; onclose schedules the reconnect.
        const ws = this.ws;
        if (ws) {
          ws.onclose = null;
          ws.close(4000, 'idle timeout');
          this.handleClose(4000);
        }
        return;
      }
      this.send({ type: 'ping' });
    }, this.opts.pingIntervalMs);
  }

  private clearTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.reconnectTimer = null;
    this.pingTimer = null;
  }

  private handleMessage(raw: unknown): void {
    this.lastMessageAt = Date.now();
    if (typeof raw !== 'string') return;
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (!isRecord(message) || typeof message.type !== 'string') return;
    const { type } = message;
    if (type === 'session.ended') return; // the 4401 close that follows decides
    this.heard = true;
    if (type === 'pong') return;
    const group = typeof message.group === 'string' ? message.group : null;
    const state = group ? this.groups.get(group) : undefined;
    if (!group || !state) return; // unknown or already-unsubscribed group
    const seq = typeof message.seq === 'number' ? message.seq : null;

    if (type === 'subscribed') {
      // After a reconnect, a different current seq means we missed events.
      const missed = state.lastSeq !== null && seq !== null && seq !== state.lastSeq;
      if (seq !== null) state.lastSeq = seq;
      state.acked = true;
      const waiting = [...state.waiting];
      state.waiting.clear();
      for (const h of waiting) h.onSubscribed?.();
      if (missed) this.resync(state);
      return;
    }
    if (type === 'subscription.revoked') {
      this.groups.delete(group);
      for (const h of [...state.handlers]) (h.onRevoked ?? h.onResync)?.();
      return;
    }
    if (type === 'error') {
      const data = isRecord(message.data) ? message.data : {};
      const detail = typeof data.detail === 'string' ? data.detail : 'error';
      for (const h of [...state.handlers]) h.onError?.(detail);
      return;
    }
    if (seq === null) return;
    if (state.lastSeq !== null) {
      if (seq <= state.lastSeq) return; // duplicate or stale
      if (seq !== state.lastSeq + 1) {
        state.lastSeq = seq;
        this.resync(state);
      }
    }
    state.lastSeq = seq;
    const event: SocketEvent = { type, group, seq, data: message.data };
    for (const h of [...state.handlers]) h.onEvent(event);
  }

  private resync(state: GroupState): void {
    for (const h of [...state.handlers]) h.onResync?.();
  }
}

// --- the app-wide instance and React bindings -------------------------------

let client: SocketClient | null = null;
let unauthorizedHandler: () => void = () => undefined;

/** What to do when the server closes the socket with 4401 (session gone). */
export function setSocketUnauthorizedHandler(handler: () => void): void {
  unauthorizedHandler = handler;
}

export function defaultSocketUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/ws/`;
}

/** Runs the app's 4401 handler; the shared client's onUnauthorized. */
export function notifySocketUnauthorized(): void {
  unauthorizedHandler();
}

/** The shared client; created lazily so tests can install their own first. */
export function getSocket(): SocketClient {
  client ??= new SocketClient({ url: defaultSocketUrl(), onUnauthorized: notifySocketUnauthorized });
  return client;
}

export function setSocket(next: SocketClient | null): void {
  client?.stop();
  client = next;
}

export function useSocketState(): SocketState {
  const socket = getSocket();
  return useSyncExternalStore(socket.subscribeState, socket.getState, socket.getState);
}

/**
 * Listen to a server group while the component is mounted. `onEvent`, `onResync` and
 * `onSubscribed` may change between renders without resubscribing.
 */
export function useSubscription(
  group: string | null,
  onEvent: (event: SocketEvent) => void,
  onResync?: () => void,
  onSubscribed?: () => void,
): void {
  const eventRef = useRef(onEvent);
  const resyncRef = useRef(onResync);
  const subscribedRef = useRef(onSubscribed);
  useEffect(() => {
    eventRef.current = onEvent;
    resyncRef.current = onResync;
    subscribedRef.current = onSubscribed;
  });
  useEffect(() => {
    if (!group) return undefined;
    return getSocket().subscribe(group, {
      onEvent: (event) => eventRef.current(event),
      onResync: () => resyncRef.current?.(),
      onSubscribed: () => subscribedRef.current?.(),
    });
  }, [group]);
}
