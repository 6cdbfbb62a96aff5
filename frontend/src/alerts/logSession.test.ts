import { describe, expect, it } from 'vitest';
import { LogSession, downloadText, parseServerMessage, searchBuffer, type LogSocket } from './logSession';

class FakeSocket implements LogSocket {
  readyState = 0;
  sent: unknown[] = [];
  closed: number | null = null;
  onopen: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closed = code;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  message(data: unknown) {
    this.onmessage?.({ data: JSON.stringify(data) } as MessageEvent);
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' } as CloseEvent);
  }
}

function setup(capacity = 100) {
  const sockets: FakeSocket[] = [];
  const timers: (() => void)[] = [];
  let now = Date.parse('2026-12-02T10:00:10Z');
  const session = new LogSession({
    url: 'ws://x/ws/logs/',
    follow: { cluster: 1, namespace: 'shop', workload: { kind: 'Deployment', name: 'web' }, tailLines: 200 },
    capacity,
    createSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    random: () => 0.5,
    now: () => now,
    setTimer: (fn) => {
      timers.push(fn);
      return timers.length;
    },
    clearTimer: () => undefined,
  });
  return { session, sockets, timers, advance: (ms: number) => (now += ms) };
}

const line = (pod: string, ts: string, text: string, container = 'main') => ({ pod, container, ts, text });

describe('parseServerMessage', () => {
  it('reads the messages of the protocol', () => {
    expect(parseServerMessage('{"type":"started","pods":[{"pod":"a","container":"c"}]}')).toEqual({ type: 'started', pods: [{ pod: 'a', container: 'c' }] });
    expect(parseServerMessage({ type: 'skipped', count: 12 })).toEqual({ type: 'skipped', count: 12 });
    expect(parseServerMessage({ type: 'error', code: 'pod_not_found', message: 'No pod.' })).toEqual({ type: 'error', code: 'pod_not_found', message: 'No pod.', params: {} });
    expect(parseServerMessage({ type: 'pods', added: ['p1'], removed: [{ pod: 'p0', container: 'c' }] })).toEqual({
      type: 'pods',
      added: [{ pod: 'p1', container: '' }],
      removed: [{ pod: 'p0', container: 'c' }],
    });
    expect(parseServerMessage({ type: 'lines', lines: [line('a', 't', 'x'), { bad: true }] })).toEqual({ type: 'lines', lines: [line('a', 't', 'x')] });
  });

  it('ignores what it does not know', () => {
    expect(parseServerMessage('not json')).toBeNull();
    expect(parseServerMessage({ type: 'whatever' })).toBeNull();
    expect(parseServerMessage({ type: 'skipped', count: 0 })).toBeNull();
    expect(parseServerMessage({ type: 'lines' })).toBeNull();
    expect(parseServerMessage(42)).toBeNull();
  });
});

describe('LogSession', () => {
  it('follows once open, keeps lines, markers and pod colours', () => {
    const { session, sockets } = setup();
    session.start();
    expect(sockets).toHaveLength(1);
    sockets[0]!.open();
    expect(sockets[0]!.sent[0]).toEqual({ type: 'follow', cluster: 1, namespace: 'shop', workload: { kind: 'Deployment', name: 'web' }, tailLines: 200 });
    sockets[0]!.message({ type: 'started', pods: [{ pod: 'web-1', container: 'main' }, { pod: 'web-2', container: 'main' }] });
    sockets[0]!.message({ type: 'lines', lines: [line('web-2', '2026-12-02T10:00:01Z', 'b'), line('web-1', '2026-12-02T10:00:02Z', 'a')] });
    sockets[0]!.message({ type: 'skipped', count: 40 });
    sockets[0]!.message({ type: 'pods', added: [{ pod: 'web-3', container: 'main' }], removed: [{ pod: 'web-1', container: 'main' }] });
    sockets[0]!.message({ type: 'ended', pod: 'web-1', reason: 'deleted' });
    const snap = session.snapshot();
    expect(snap.status).toBe('open');
    expect(snap.received).toBe(2);
    expect(snap.skipped).toBe(40);
    expect(snap.podOrder).toEqual(['web-1', 'web-2', 'web-3']);
    expect(snap.pods.map((p) => p.pod)).toEqual(['web-2', 'web-3']);
    expect(session.colourOf('web-3')).toBe(2);
    expect(session.buffer.toArray().map((e) => e.kind)).toEqual(['line', 'line', 'skipped', 'pods', 'ended']);
  });

  it('keeps at most its capacity of entries', () => {
    const { session, sockets } = setup(50);
    session.start();
    sockets[0]!.open();
    for (let batch = 0; batch < 30; batch += 1) {
      sockets[0]!.message({ type: 'lines', lines: Array.from({ length: 20 }, (_, i) => line('p', '', `line ${batch * 20 + i}`)) });
    }
    expect(session.buffer.size).toBe(50);
    expect(session.snapshot().received).toBe(600);
    const first = session.buffer.at(0);
    expect(first?.kind === 'line' && first.text).toBe('line 550');
  });

  it('sends pause and resume, and pauses again after a reconnect', () => {
    const { session, sockets, timers } = setup();
    session.start();
    sockets[0]!.open();
    session.pause();
    session.pause();
    expect(sockets[0]!.sent.slice(1)).toEqual([{ type: 'pause' }]);
    expect(session.snapshot().paused).toBe(true);
    sockets[0]!.drop();
    timers.shift()!();
    sockets[1]!.open();
    expect(sockets[1]!.sent.at(-1)).toEqual({ type: 'pause' });
    session.resume();
    expect(sockets[1]!.sent.at(-1)).toEqual({ type: 'resume' });
    expect(session.snapshot().paused).toBe(false);
  });

  it('reconnects after a drop, asks only for the time since the newest line, and skips the replay', () => {
    const { session, sockets, timers, advance } = setup();
    session.start();
    sockets[0]!.open();
    sockets[0]!.message({ type: 'lines', lines: [line('p', '2026-12-02T10:00:01.000000001Z', 'one'), line('p', '2026-12-02T10:00:02.000000001Z', 'two')] });
    sockets[0]!.drop();
    expect(session.snapshot().status).toBe('reconnecting');
    expect(timers).toHaveLength(1);
    advance(5_000);
    timers.shift()!();
    sockets[1]!.open();
    const follow = sockets[1]!.sent[0] as Record<string, unknown>;
    expect(follow.tailLines).toBeUndefined();
    expect(follow.sinceSeconds).toBe(14); // 10:00:15 − 10:00:02 = 13 s, + 1
    sockets[1]!.message({
      type: 'lines',
      lines: [line('p', '2026-12-02T10:00:01.000000001Z', 'one'), line('p', '2026-12-02T10:00:02.000000001Z', 'two'), line('p', '2026-12-02T10:00:03Z', 'three')],
    });
    const texts = session.buffer.toArray().map((e) => (e.kind === 'line' ? e.text : e.kind));
    expect(texts).toEqual(['one', 'two', 'reconnected', 'three']);
    expect(session.snapshot().reconnects).toBe(1);
  });

  it('stops for an error a retry cannot fix, and keeps going for others', () => {
    const { session, sockets, timers } = setup();
    session.start();
    sockets[0]!.open();
    sockets[0]!.message({ type: 'started', pods: [{ pod: 'p', container: 'main' }] });
    sockets[0]!.message({ type: 'error', code: 'cluster_unreachable', message: 'down' });
    expect(session.snapshot().status).toBe('open');
    expect(session.snapshot().error?.code).toBe('cluster_unreachable');
    sockets[0]!.message({ type: 'error', code: 'grant_missing', message: 'no', params: { grant: 'pods.logs' } });
    expect(session.snapshot().status).toBe('failed');
    expect(session.snapshot().error).toEqual({ code: 'grant_missing', message: 'no', params: { grant: 'pods.logs' } });
    expect(sockets[0]!.closed).toBe(1000);
    expect(timers).toHaveLength(0);
  });

  it('asks again when a follow is refused for a passing reason', () => {
    const { session, sockets, timers } = setup();
    session.start();
    sockets[0]!.open();
    sockets[0]!.message({ type: 'error', code: 'container_waiting', message: 'ContainerCreating' });
    expect(session.snapshot().status).toBe('reconnecting');
    expect(sockets[0]!.closed).toBe(1000);
    timers.shift()!();
    sockets[1]!.open();
    expect((sockets[1]!.sent[0] as { type: string }).type).toBe('follow');
    sockets[1]!.message({ type: 'started', pods: [{ pod: 'p', container: 'main' }] });
    expect(session.snapshot().error).toBeNull();
    expect(session.snapshot().status).toBe('open');
  });

  it('asks from the arrival of the newest line when lines carry no timestamp', () => {
    const { session, sockets, timers, advance } = setup();
    session.start();
    sockets[0]!.open();
    sockets[0]!.message({ type: 'started', pods: [{ pod: 'p', container: 'main' }] });
    sockets[0]!.message({ type: 'lines', lines: [line('p', '', 'x')] });
    advance(9_500);
    sockets[0]!.drop();
    timers.shift()!();
    sockets[1]!.open();
    const follow = sockets[1]!.sent[0] as Record<string, unknown>;
    expect(follow.tailLines).toBeUndefined();
    expect(follow.sinceSeconds).toBe(11);
  });

  it('does not reconnect after stop or a final close code', () => {
    const a = setup();
    a.session.start();
    a.sockets[0]!.open();
    a.session.stop();
    expect(a.sockets[0]!.sent.at(-1)).toEqual({ type: 'stop' });
    expect(a.session.snapshot().status).toBe('stopped');
    expect(a.timers).toHaveLength(0);

    const b = setup();
    b.session.start();
    b.sockets[0]!.drop(4401);
    expect(b.session.snapshot().status).toBe('failed');
    expect(b.timers).toHaveLength(0);
  });

  it('backs off with a cap', () => {
    const { session } = setup();
    expect(session.backoffDelay(0)).toBe(750);
    expect(session.backoffDelay(10)).toBe(11_250);
  });
});

describe('search and download', () => {
  it('finds lines case-insensitively and writes the newest n lines', () => {
    const { session, sockets } = setup();
    session.start();
    sockets[0]!.open();
    sockets[0]!.message({ type: 'lines', lines: [line('a', 't1', 'GET /'), line('b', 't2', 'panic: boom'), line('a', 't3', 'get /health')] });
    sockets[0]!.message({ type: 'skipped', count: 3 });
    expect(searchBuffer(session.buffer, 'get')).toEqual([0, 2]);
    expect(searchBuffer(session.buffer, '  ')).toEqual([]);
    expect(downloadText(session.buffer, 2, { withPod: true, withTs: false })).toBe('[b/main] panic: boom\n[a/main] get /health\n');
    expect(downloadText(session.buffer, 10, { withPod: false, withTs: true })).toBe('t1 GET /\nt2 panic: boom\nt3 get /health\n');
  });
});
