/**
 * One follow of `/ws/logs/` (MONITORING.md "Logs over the WebSocket"): a pod, or every pod of a
 * workload, interleaved as the server sends them.
 *
 * - The session opens its own socket, sends `follow` once it is open, and keeps what arrives in a
 *   bounded RingBuffer (10,000 entries by default): lines, "N lines skipped" markers (the server
 *   dropped lines for a slow or paused reader), pods joining and leaving, streams ending, and
 *   reconnects.
 * - Pause/resume are sent to the server (it holds, then drops and counts, what it cannot send).
 * - A dropped connection is reopened with capped back-off; the new `follow` asks only for the
 *   seconds since the newest line held, and lines the buffer already has (same stream, older
 *   timestamp, or the same timestamp and text as that stream's newest) are not added twice.
 * - An `error` message with a code that asking again cannot fix (no such pod, no grant) stops it.
 *
 * It is framework-free: the view reads `snapshot()` through useSyncExternalStore (`subscribe`,
 * `version`), and tests drive it with a fake socket.
 */
import { RingBuffer } from './ringBuffer';
import type { FollowRequest, LogLine, LogServerMessage, PodContainer } from './types';

export const DEFAULT_CAPACITY = 10_000;

export type LogEntry =
  | { kind: 'line'; seq: number; pod: string; container: string; ts: string; text: string }
  | { kind: 'skipped'; seq: number; count: number }
  | { kind: 'pods'; seq: number; added: string[]; removed: string[] }
  | { kind: 'ended'; seq: number; pod: string; container: string; reason: string }
  | { kind: 'reconnected'; seq: number };

type EntryBody = LogEntry extends infer E ? (E extends LogEntry ? Omit<E, 'seq'> : never) : never;

export type SessionStatus = 'connecting' | 'open' | 'reconnecting' | 'stopped' | 'failed';

export interface SessionError {
  code: string;
  message: string;
  params: Record<string, unknown>;
}

/** The subset of the browser WebSocket a session uses; tests pass a fake. */
export interface LogSocket {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface SessionOptions {
  url: string;
  follow: Omit<FollowRequest, 'type'>;
  capacity?: number;
  createSocket?: (url: string) => LogSocket;
  baseDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** Codes that a reconnect cannot fix: the session stops and says why. */
export const FINAL_CODES = new Set([
  'not_found',
  'grant_missing',
  'pod_not_found',
  'container_not_found',
  'workload_not_found',
  'previous_log_unavailable',
  'cluster_disabled',
  'log_follow_invalid',
  'log_too_many_pods',
  'log_followers_limit',
  'session_ended',
  'forbidden',
  'invalid',
  'not_authenticated',
  'namespace_forbidden',
  'operator_required',
  'permission_denied',
]);
/** Close codes after which reopening is pointless (not authenticated, forbidden origin, too many sockets). */
const FINAL_CLOSE = new Set([4401, 4403, 4404, 4429]);
const OPEN = 1;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function podContainer(v: unknown): PodContainer | null {
  if (typeof v === 'string') return { pod: v, container: '' };
  if (isRecord(v) && typeof v.pod === 'string') return { pod: v.pod, container: str(v.container) };
  return null;
}

function asLine(v: unknown): LogLine | null {
  if (!isRecord(v) || typeof v.text !== 'string') return null;
  return { pod: str(v.pod), container: str(v.container), ts: str(v.ts), text: v.text };
}

/** A server message, checked; anything unknown or malformed is null (ignored). */
export function parseServerMessage(raw: unknown): LogServerMessage | null {
  let message: unknown = raw;
  if (typeof raw === 'string') {
    try {
      message = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (!isRecord(message) || typeof message.type !== 'string') return null;
  switch (message.type) {
    case 'started':
      return { type: 'started', pods: (Array.isArray(message.pods) ? message.pods : []).map(podContainer).filter((p): p is PodContainer => p !== null) };
    case 'lines': {
      if (!Array.isArray(message.lines)) return null;
      return { type: 'lines', lines: message.lines.map(asLine).filter((l): l is LogLine => l !== null) };
    }
    case 'skipped': {
      const count = Number(message.count);
      return Number.isFinite(count) && count > 0 ? { type: 'skipped', count: Math.floor(count) } : null;
    }
    case 'pods': {
      const list = (v: unknown) => (Array.isArray(v) ? v.map(podContainer).filter((p): p is PodContainer => p !== null) : []);
      return { type: 'pods', added: list(message.added), removed: list(message.removed) };
    }
    case 'ended':
      return { type: 'ended', pod: str(message.pod), container: str(message.container), reason: str(message.reason) };
    case 'error':
      return {
        type: 'error',
        code: str(message.code) || 'error',
        message: str(message.message) || str(message.detail),
        params: isRecord(message.params) ? message.params : {},
      };
    default:
      return null;
  }
}

/** `/ws/logs/` on this page's host. */
export function logsSocketUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/ws/logs/`;
}

const streamKey = (pod: string, container: string) => `${pod}\u0000${container}`;

export interface SessionSnapshot {
  version: number;
  status: SessionStatus;
  paused: boolean;
  error: SessionError | null;
  /** Pods (with their containers) being followed, in the order first seen. */
  pods: PodContainer[];
  /** Every pod ever seen, in order: the colour of a pod is its position here. */
  podOrder: string[];
  /** Lines the server said it skipped, in total. */
  skipped: number;
  /** Lines received in total (including those the ring has since dropped). */
  received: number;
  reconnects: number;
}

export class LogSession {
  readonly buffer: RingBuffer<LogEntry>;
  private readonly opts: Required<Omit<SessionOptions, 'capacity'>>;
  private ws: LogSocket | null = null;
  private readonly listeners = new Set<() => void>();
  private timer: unknown = null;
  private attempt = 0;
  private stopped = false;
  private everOpened = false;
  /** The current socket's follow was accepted (`started`). */
  private accepted = false;
  /** When the newest line arrived (this clock): a reconnect without timestamps asks from there. */
  private lastLineAt = 0;
  /** Per stream, the newest line held: a reconnect's replay skips up to it. */
  private readonly newest = new Map<string, { ts: string; text: string }>();
  /** Streams whose replay after a reconnect has not yet passed the newest line held. */
  private readonly replaying = new Set<string>();
  private state: SessionSnapshot = {
    version: 0,
    status: 'connecting',
    paused: false,
    error: null,
    pods: [],
    podOrder: [],
    skipped: 0,
    received: 0,
    reconnects: 0,
  };

  constructor(options: SessionOptions) {
    this.buffer = new RingBuffer<LogEntry>(options.capacity ?? DEFAULT_CAPACITY);
    this.opts = {
      createSocket: (url) => new WebSocket(url),
      baseDelayMs: 1000,
      maxDelayMs: 15_000,
      now: () => Date.now(),
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      ...options,
    };
  }

  // --- store interface ------------------------------------------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  snapshot = (): SessionSnapshot => this.state;

  private update(patch: Partial<SessionSnapshot>): void {
    this.state = { ...this.state, ...patch, version: this.state.version + 1 };
    for (const listener of [...this.listeners]) listener();
  }

  private add(entry: EntryBody): void {
    const seq = this.buffer.nextSeq;
    this.buffer.push({ ...entry, seq } as LogEntry);
  }

  /** The colour index of a pod (its position among the pods seen). */
  colourOf(pod: string): number {
    const index = this.state.podOrder.indexOf(pod);
    return index < 0 ? 0 : index;
  }

  // --- lifecycle -------------------------------------------------------------------------

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.opts.clearTimer(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onerror = null;
      ws.onclose = null;
      if (ws.readyState === OPEN) {
        try {
          ws.send(JSON.stringify({ type: 'stop' }));
        } catch {
          // closing anyway
        }
      }
      ws.close(1000, 'stop');
    }
    if (this.state.status !== 'failed') this.update({ status: 'stopped' });
  }

  pause(): void {
    if (this.state.paused) return;
    this.send({ type: 'pause' });
    this.update({ paused: true });
  }

  resume(): void {
    if (!this.state.paused) return;
    this.send({ type: 'resume' });
    this.update({ paused: false });
  }

  /** Delay before reconnect attempt `attempt` (0-based): equal jitter, capped. */
  backoffDelay(attempt: number): number {
    const exp = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** attempt);
    return Math.round(exp / 2 + (this.opts.random() * exp) / 2);
  }

  private send(message: Record<string, unknown>): void {
    if (this.ws && this.ws.readyState === OPEN) this.ws.send(JSON.stringify(message));
  }

  /** The follow request: the first asks for the tail; a reconnect for the time since the newest line. */
  followRequest(): FollowRequest {
    const request: FollowRequest = { type: 'follow', ...this.opts.follow };
    if (!this.everOpened) return request;
    let newestMs = 0;
    for (const { ts } of this.newest.values()) {
      const ms = Date.parse(ts);
      if (Number.isFinite(ms) && ms > newestMs) newestMs = ms;
    }
    if (newestMs <= 0 && this.lastLineAt > 0) newestMs = this.lastLineAt;
    if (newestMs > 0) {
      const since = Math.max(1, Math.ceil((this.opts.now() - newestMs) / 1000) + 1);
      delete request.tailLines;
      request.sinceSeconds = this.opts.follow.sinceSeconds ? Math.min(this.opts.follow.sinceSeconds, since) : since;
    }
    return request;
  }

  private connect(): void {
    let ws: LogSocket;
    try {
      ws = this.opts.createSocket(this.opts.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.accepted = false;
      const reconnect = this.everOpened;
      ws.send(JSON.stringify(this.followRequest()));
      if (this.state.paused) ws.send(JSON.stringify({ type: 'pause' }));
      this.everOpened = true;
      if (reconnect) {
        for (const key of this.newest.keys()) this.replaying.add(key);
        this.add({ kind: 'reconnected' });
        this.update({ status: 'open', reconnects: this.state.reconnects + 1 });
      } else {
        this.update({ status: 'open' });
      }
    };
    ws.onmessage = (ev) => this.handle(parseServerMessage(ev.data));
    ws.onerror = () => undefined; // a close follows
    ws.onclose = (ev) => {
      this.ws = null;
      if (this.stopped || this.state.status === 'failed') return;
      if (FINAL_CLOSE.has(ev.code)) {
        this.update({ status: 'failed', error: this.state.error ?? { code: ev.code === 4401 ? 'not_authenticated' : 'forbidden', message: ev.reason || '', params: {} } });
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = this.backoffDelay(this.attempt);
    this.attempt += 1;
    this.update({ status: 'reconnecting' });
    this.timer = this.opts.setTimer(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  /** Whether `line` is one the buffer already holds (the replay after a reconnect). */
  private isReplay(line: LogLine): boolean {
    const key = streamKey(line.pod, line.container);
    if (!this.replaying.has(key)) return false;
    const held = this.newest.get(key);
    if (!held || !line.ts || !held.ts) {
      this.replaying.delete(key);
      return false;
    }
    const a = Date.parse(line.ts);
    const b = Date.parse(held.ts);
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      this.replaying.delete(key);
      return false;
    }
    if (a < b) return true;
    if (a === b) {
      if (line.ts < held.ts) return true;
      if (line.ts === held.ts) {
        if (line.text === held.text) this.replaying.delete(key); // the newest held: what follows is new
        return true;
      }
    }
    this.replaying.delete(key);
    return false;
  }

  private notePods(pods: PodContainer[]): { order: string[]; list: PodContainer[] } {
    const order = [...this.state.podOrder];
    const list = [...this.state.pods];
    for (const p of pods) {
      if (!order.includes(p.pod)) order.push(p.pod);
      if (!list.some((q) => q.pod === p.pod && q.container === p.container)) list.push(p);
    }
    return { order, list };
  }

  /** Apply one server message (exposed for tests). */
  handle(message: LogServerMessage | null): void {
    if (!message) return;
    switch (message.type) {
      case 'started': {
        const { order } = this.notePods(message.pods);
        this.accepted = true;
        this.update({ pods: message.pods, podOrder: order, error: null });
        return;
      }
      case 'lines': {
        let received = 0;
        const seen: PodContainer[] = [];
        for (const line of message.lines) {
          if (this.isReplay(line)) continue;
          this.add({ kind: 'line', pod: line.pod, container: line.container, ts: line.ts, text: line.text });
          this.newest.set(streamKey(line.pod, line.container), { ts: line.ts, text: line.text });
          received += 1;
          this.lastLineAt = this.opts.now();
          if (line.pod && !this.state.podOrder.includes(line.pod) && !seen.some((s) => s.pod === line.pod)) seen.push({ pod: line.pod, container: line.container });
        }
        const order = seen.length ? this.notePods(seen).order : this.state.podOrder;
        if (received > 0 || seen.length) this.update({ received: this.state.received + received, podOrder: order });
        return;
      }
      case 'skipped':
        this.add({ kind: 'skipped', count: message.count });
        this.update({ skipped: this.state.skipped + message.count });
        return;
      case 'pods': {
        const added = message.added.map((p) => (typeof p === 'string' ? { pod: p, container: '' } : p));
        const removed = message.removed.map((p) => (typeof p === 'string' ? { pod: p, container: '' } : p));
        const { order, list } = this.notePods(added);
        const gone = new Set(removed.map((p) => p.pod));
        this.add({ kind: 'pods', added: [...new Set(added.map((p) => p.pod))], removed: [...gone] });
        this.update({ podOrder: order, pods: list.filter((p) => !gone.has(p.pod)) });
        return;
      }
      case 'ended':
        this.add({ kind: 'ended', pod: message.pod, container: message.container ?? '', reason: message.reason });
        this.update({});
        return;
      case 'error': {
        const error = { code: message.code, message: message.message, params: message.params ?? {} };
        if (FINAL_CODES.has(message.code)) {
          this.update({ status: 'failed', error });
          const ws = this.ws;
          this.ws = null;
          if (ws) {
            ws.onclose = null;
            ws.close(1000, 'final error');
          }
          return;
        }
        if (!this.accepted && !this.stopped) {
          // the follow was refused for a passing reason (a container still starting, a cluster
          // not answering): ask again after a back-off
          this.update({ error });
          const ws = this.ws;
          this.ws = null;
          if (ws) {
            ws.onclose = null;
            ws.close(1000, 'retry');
          }
          this.scheduleReconnect();
          return;
        }
        this.update({ error });
        return;
      }
    }
  }
}

/** The text of an entry as a downloaded file has it: `[pod/container] ts text`. */
export function entryText(entry: LogEntry, { withPod, withTs }: { withPod: boolean; withTs: boolean }): string | null {
  if (entry.kind !== 'line') return null;
  const parts: string[] = [];
  if (withPod) parts.push(`[${entry.pod}${entry.container ? `/${entry.container}` : ''}]`);
  if (withTs && entry.ts) parts.push(entry.ts);
  parts.push(entry.text);
  return parts.join(' ');
}

/** The newest `n` lines of the buffer as a text file's content. */
export function downloadText(buffer: RingBuffer<LogEntry>, n: number, options: { withPod: boolean; withTs: boolean }): string {
  const lines: string[] = [];
  const entries = buffer.toArray();
  for (let i = entries.length - 1; i >= 0 && lines.length < n; i -= 1) {
    const entry = entries[i];
    const text = entry ? entryText(entry, options) : null;
    if (text !== null) lines.push(text);
  }
  lines.reverse();
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Indices (0 = oldest held) of the lines containing `query` (case-insensitive). */
export function searchBuffer(buffer: RingBuffer<LogEntry>, query: string): number[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  return buffer.findIndices((e) => e.kind === 'line' && e.text.toLowerCase().includes(q));
}
