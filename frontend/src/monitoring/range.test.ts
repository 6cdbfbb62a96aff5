import { describe, expect, it } from 'vitest';
import { DEFAULT_RANGE, fromLocalInput, isMonth, monthOf, parseRange, rangeKey, stepFor, toEpochSeconds, toLocalInput, windowOf, withRange } from './range';

describe('time ranges', () => {
  it('chooses a step that gives about 120 points', () => {
    expect(stepFor(3600)).toBe(30);
    expect(stepFor(6 * 3600)).toBe(300);
    expect(stepFor(24 * 3600)).toBe(900);
    expect(stepFor(7 * 86400)).toBe(7200);
    expect(stepFor(30 * 86400)).toBe(21600);
    expect(stepFor(10 * 365 * 86400)).toBe(86400);
  });

  it('reads and writes the range in the URL, keeping other parameters', () => {
    expect(parseRange(new URLSearchParams(''))).toEqual(DEFAULT_RANGE);
    expect(parseRange(new URLSearchParams('range=7d'))).toEqual({ kind: 'preset', preset: '7d' });
    expect(parseRange(new URLSearchParams('range=bogus'))).toEqual(DEFAULT_RANGE);
    // a custom range whose end is before its start is ignored
    expect(parseRange(new URLSearchParams('range=custom&from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z'))).toEqual(DEFAULT_RANGE);

    const custom = { kind: 'custom' as const, from: 1_796_000_000, to: 1_796_086_400 };
    const params = withRange(new URLSearchParams('cluster=3'), custom);
    expect(params.get('cluster')).toBe('3');
    expect(parseRange(params)).toEqual(custom);
    const back = withRange(params, { kind: 'preset', preset: '1h' });
    expect(back.toString()).toBe('cluster=3');
    expect(withRange(back, { kind: 'preset', preset: '24h' }).get('range')).toBe('24h');
    expect(rangeKey(custom)).toBe('1796000000-1796086400');
  });

  it('turns a preset into a window ending now, aligned to the step', () => {
    const now = Date.UTC(2026, 10, 30, 10, 7, 13);
    const w = windowOf({ kind: 'preset', preset: '6h' }, now);
    expect(w.step).toBe(300);
    expect(w.end % w.step).toBe(0);
    expect(w.end).toBeGreaterThanOrEqual(now / 1000);
    expect(w.end - w.start).toBe(6 * 3600);
    expect(windowOf({ kind: 'custom', from: 100, to: 100 + 86400 })).toEqual({ start: 100, end: 86500, step: 900 });
  });

  it('converts times and months', () => {
    expect(toEpochSeconds('2026-11-30T00:00:00Z')).toBe(Date.UTC(2026, 10, 30) / 1000);
    expect(toEpochSeconds(1_796_000_000)).toBe(1_796_000_000);
    expect(toEpochSeconds(1_796_000_000_000)).toBe(1_796_000_000);
    expect(toEpochSeconds('1796000000')).toBe(1_796_000_000);
    expect(toEpochSeconds(null)).toBeNull();
    expect(toEpochSeconds('yesterday')).toBeNull();
    const local = toLocalInput(1_796_000_040);
    expect(fromLocalInput(local)).toBe(1_796_000_040);
    expect(fromLocalInput('')).toBeNull();
    expect(monthOf(new Date(2026, 0, 15))).toBe('2026-01');
    expect(isMonth('2026-12')).toBe(true);
    expect(isMonth('2026-13')).toBe(false);
    expect(isMonth(null)).toBe(false);
  });
});
