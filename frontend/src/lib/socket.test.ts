import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { SocketClient, type SocketEvent } from './socket';

function makeClient(overrides: Partial<ConstructorParameters<typeof SocketClient>[0]> = {}) {
  return new SocketClient({
    url: 'ws://portal.test/ws/',
    createSocket: (url) => new FakeWebSocket(url),
    random: () => 0.5,
    ...overrides,
  });
}

describe('SocketClient', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeWebSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('subscribes once open and delivers events in order', () => {
    const client = makeClient();
    const events: SocketEvent[] = [];
    client.subscribe('audit', { onEvent: (e) => events.push(e) });
    client.start();
    expect(client.state).toBe('connecting');
    const ws = FakeWebSocket.latest();
    expect(ws.url).toBe('ws://portal.test/ws/');
    ws.serverOpen();
    expect(client.state).toBe('open');
    expect(ws.sent).toEqual([{ type: 'subscribe', group: 'audit' }]);
    ws.serverSend({ type: 'subscribed', group: 'audit', seq: 4 });
    ws.serverSend({ type: 'audit.created', group: 'audit', seq: 5, data: { id: 1 } });
    ws.serverSend({ type: 'audit.created', group: 'audit', seq: 6, data: { id: 2 } });
    expect(events.map((e) => [e.type, e.seq, e.data])).toEqual([
      ['audit.created', 5, { id: 1 }],
      ['audit.created', 6, { id: 2 }],
    ]);
  });

  it('reconnects with exponential backoff, jitter and a cap', () => {
    const client = makeClient();
    // random()=0.5 → delay = exp/2 + exp/4 = 0.75 × min(cap, 1000·2^n)
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => client.backoffDelay(n))).toEqual([
      750, 1500, 3000, 6000, 12000, 22500, 22500,
    ]);
    const lo = makeClient({ random: () => 0 });
    const hi = makeClient({ random: () => 0.999999 });
    expect(lo.backoffDelay(10)).toBe(15000);
    expect(hi.backoffDelay(10)).toBeLessThanOrEqual(30000);
    expect(hi.backoffDelay(10)).toBeGreaterThan(29000);

    client.start();
    FakeWebSocket.latest().serverClose(1006);
    expect(client.state).toBe('connecting');
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(749);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    // The second failure waits longer.
    FakeWebSocket.latest().serverClose(1006);
    vi.advanceTimersByTime(1499);
    expect(FakeWebSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(3);
    // A successful open resets the backoff.
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverClose(1011);
    vi.advanceTimersByTime(750);
    expect(FakeWebSocket.instances).toHaveLength(4);
  });

  it('tells handlers when their subscription is live, once, and at once on a group already live', async () => {
    const client = makeClient();
    const first = vi.fn();
    client.subscribe('workspace.3', { onEvent: () => undefined, onSubscribed: first });
    client.start();
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    expect(first).not.toHaveBeenCalled(); // not before the server acknowledged it
    ws.serverSend({ type: 'subscribed', group: 'workspace.3', seq: 0 });
    expect(first).toHaveBeenCalledTimes(1);
    const second = vi.fn();
    const gone = vi.fn();
    client.subscribe('workspace.3', { onEvent: () => undefined, onSubscribed: second });
    const off = client.subscribe('workspace.3', { onEvent: () => undefined, onSubscribed: gone });
    off(); // left before the microtask ran
    await Promise.resolve();
    expect(second).toHaveBeenCalledTimes(1);
    expect(gone).not.toHaveBeenCalled();
    // a reconnect's acknowledgement is the seq check's business, not onSubscribed's
    ws.serverClose(1006);
    vi.advanceTimersByTime(1000);
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverSend({ type: 'subscribed', group: 'workspace.3', seq: 0 });
    expect(first).toHaveBeenCalledTimes(1);
    expect(ws.sent.filter((m) => (m as { type: string }).type === 'subscribe')).toHaveLength(1);
  });

  it('re-subscribes its groups after a reconnect', () => {
    const client = makeClient();
    client.subscribe('audit', { onEvent: () => undefined });
    client.subscribe('cluster.7', { onEvent: () => undefined });
    client.start();
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverClose(1006);
    vi.runOnlyPendingTimers();
    const second = FakeWebSocket.latest();
    expect(second).not.toBe(FakeWebSocket.instances[0]);
    second.serverOpen();
    expect(second.sent).toEqual([
      { type: 'subscribe', group: 'audit' },
      { type: 'subscribe', group: 'cluster.7' },
    ]);
  });

  it('calls the resync callback when seq jumps, and drops duplicates', () => {
    const client = makeClient();
    const seen: number[] = [];
    const onResync = vi.fn();
    client.subscribe('audit', { onEvent: (e) => seen.push(e.seq), onResync });
    client.start();
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend({ type: 'subscribed', group: 'audit', seq: 10 });
    ws.serverSend({ type: 'audit.created', group: 'audit', seq: 11, data: {} });
    expect(onResync).not.toHaveBeenCalled();
    ws.serverSend({ type: 'audit.created', group: 'audit', seq: 14, data: {} }); // 12, 13 lost
    expect(onResync).toHaveBeenCalledTimes(1);
    ws.serverSend({ type: 'audit.created', group: 'audit', seq: 14, data: {} }); // duplicate
    ws.serverSend({ type: 'audit.created', group: 'audit', seq: 15, data: {} });
    expect(onResync).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([11, 14, 15]);
  });

  it('detects events missed while disconnected from the resubscribe seq', () => {
    const client = makeClient();
    const onResync = vi.fn();
    client.subscribe('audit', { onEvent: () => undefined, onResync });
    client.start();
    let ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend({ type: 'subscribed', group: 'audit', seq: 3 });
    ws.serverClose(1006);
    vi.runOnlyPendingTimers();
    ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend({ type: 'subscribed', group: 'audit', seq: 3 }); // nothing happened meanwhile
    expect(onResync).not.toHaveBeenCalled();
    ws.serverClose(1006);
    vi.runOnlyPendingTimers();
    ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend({ type: 'subscribed', group: 'audit', seq: 9 }); // six events happened
    expect(onResync).toHaveBeenCalledTimes(1);
  });

  it('gives up on 4401 and reports the lost session', () => {
    const onUnauthorized = vi.fn();
    const client = makeClient({ onUnauthorized });
    client.start();
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverClose(4401);
    expect(client.state).toBe('closed');
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('retries a working socket once on 4401, then reports the lost session', () => {
    const onUnauthorized = vi.fn();
    const client = makeClient({ onUnauthorized });
    client.subscribe('audit', { onEvent: () => undefined });
    client.start();
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverSend({ type: 'subscribed', group: 'audit', seq: 1 });
    // The session was rotated (a password change) or ended: the server says so and closes.
    FakeWebSocket.latest().serverSend({ type: 'session.ended', data: { detail: 'gone' } });
    FakeWebSocket.latest().serverClose(4401);
    expect(onUnauthorized).not.toHaveBeenCalled();
    expect(client.state).toBe('connecting');
    vi.advanceTimersByTime(750);
    expect(FakeWebSocket.instances).toHaveLength(2);
    // The retry is refused before it hears anything: the session really is gone.
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverSend({ type: 'session.ended', data: { detail: 'gone' } });
    FakeWebSocket.latest().serverClose(4401);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(client.state).toBe('closed');
    expect(client.finalCloseCode).toBe(4401);
    vi.advanceTimersByTime(120_000);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('keeps going when the retry after 4401 is accepted (the session was only rotated)', () => {
    const onUnauthorized = vi.fn();
    const client = makeClient({ onUnauthorized });
    client.subscribe('audit', { onEvent: () => undefined });
    client.start();
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverSend({ type: 'subscribed', group: 'audit', seq: 1 });
    FakeWebSocket.latest().serverClose(4401);
    vi.advanceTimersByTime(750);
    const retry = FakeWebSocket.latest();
    retry.serverOpen();
    expect(retry.sent).toEqual([{ type: 'subscribe', group: 'audit' }]);
    retry.serverSend({ type: 'subscribed', group: 'audit', seq: 1 });
    expect(client.state).toBe('open');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('drops a revoked group, refetches, and never resubscribes it', () => {
    const client = makeClient();
    const events: SocketEvent[] = [];
    const onResync = vi.fn();
    const onRevoked = vi.fn();
    const workspace = { onEvent: (e: SocketEvent) => events.push(e), onResync };
    client.subscribe('workspace.3', workspace);
    client.subscribe('workspace.3', { onEvent: () => undefined, onRevoked });
    client.subscribe('audit', { onEvent: (e) => events.push(e) });
    client.start();
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend({ type: 'subscribed', group: 'workspace.3', seq: 1 });
    ws.serverSend({ type: 'subscribed', group: 'audit', seq: 1 });
    ws.serverSend({ type: 'subscription.revoked', group: 'workspace.3', data: { detail: 'no longer' } });
    // Handlers without onRevoked refetch through onResync (the API now answers what is visible).
    expect(onResync).toHaveBeenCalledTimes(1);
    expect(onRevoked).toHaveBeenCalledTimes(1);
    ws.serverSend({ type: 'servicemap.updated', group: 'workspace.3', seq: 2, data: {} });
    ws.serverSend({ type: 'audit.created', group: 'audit', seq: 2, data: {} });
    expect(events.map((e) => e.group)).toEqual(['audit']);
    // After a reconnect only the groups still held are subscribed again.
    ws.serverClose(1006);
    vi.advanceTimersByTime(750);
    FakeWebSocket.latest().serverOpen();
    expect(FakeWebSocket.latest().sent).toEqual([{ type: 'subscribe', group: 'audit' }]);
  });

  it('does not retry a forbidden origin (4403)', () => {
    const onUnauthorized = vi.fn();
    const client = makeClient({ onUnauthorized });
    client.start();
    FakeWebSocket.latest().serverClose(4403);
    vi.advanceTimersByTime(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.state).toBe('closed');
    expect(client.finalCloseCode).toBe(4403);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('unsubscribes when the last listener leaves and stops cleanly', () => {
    const client = makeClient();
    client.start();
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    const a = client.subscribe('audit', { onEvent: () => undefined });
    const b = client.subscribe('audit', { onEvent: () => undefined });
    a();
    expect(ws.sent).toEqual([{ type: 'subscribe', group: 'audit' }]);
    b();
    expect(ws.sent.at(-1)).toEqual({ type: 'unsubscribe', group: 'audit' });
    client.stop();
    expect(ws.closedByClient).toBe(1000);
    expect(client.state).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('pings while open and reconnects a connection that went silent', () => {
    const client = makeClient({ pingIntervalMs: 1000, idleTimeoutMs: 2500 });
    client.start();
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    vi.advanceTimersByTime(1000);
    expect(ws.sent).toContainEqual({ type: 'ping' });
    vi.advanceTimersByTime(2000); // no pong for 3 s
    expect(ws.closedByClient).toBe(4000);
    expect(client.state).toBe('connecting');
    vi.runOnlyPendingTimers();
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('passes group errors to the handlers', () => {
    const client = makeClient();
    const onError = vi.fn();
    client.subscribe('audit', { onEvent: () => undefined, onError });
    client.start();
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverSend({ type: 'error', group: 'audit', data: { detail: 'Not allowed' } });
    expect(onError).toHaveBeenCalledWith('Not allowed');
  });
});
