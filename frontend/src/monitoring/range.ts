/**
 * The time range of the charts: a preset relative to now (1 h … 30 d) or a custom window, kept in
 * the page's URL (`?range=6h`, or `?from=<ISO>&to=<ISO>`), turned into the chart API's
 * `start/end/step` when the query runs (so a relative range moves on with each refetch).
 */

export const PRESETS = ['1h', '6h', '24h', '7d', '30d'] as const;
export type Preset = (typeof PRESETS)[number];
export type RangeChoice = { kind: 'preset'; preset: Preset } | { kind: 'custom'; from: number; to: number };

export const PRESET_SECONDS: Record<Preset, number> = {
  '1h': 3600,
  '6h': 6 * 3600,
  '24h': 24 * 3600,
  '7d': 7 * 86400,
  '30d': 30 * 86400,
};

export const DEFAULT_RANGE: RangeChoice = { kind: 'preset', preset: '1h' };

/** Steps the chart asks for: the smallest that gives at most ~`points` points. */
const STEPS = [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

export function stepFor(spanSeconds: number, points = 120): number {
  const wanted = spanSeconds / points;
  for (const step of STEPS) if (step >= wanted) return step;
  return 86400;
}

export function isPreset(value: string | null): value is Preset {
  return value !== null && (PRESETS as readonly string[]).includes(value);
}

/** The range a URL's search parameters name; bad or missing values give the default (1 h). */
export function parseRange(params: URLSearchParams): RangeChoice {
  const range = params.get('range');
  if (range === 'custom') {
    const from = Date.parse(params.get('from') ?? '');
    const to = Date.parse(params.get('to') ?? '');
    if (Number.isFinite(from) && Number.isFinite(to) && to > from) return { kind: 'custom', from: Math.floor(from / 1000), to: Math.floor(to / 1000) };
    return DEFAULT_RANGE;
  }
  return isPreset(range) ? { kind: 'preset', preset: range } : DEFAULT_RANGE;
}

/** Writes a range into search parameters (keeping the others). */
export function withRange(params: URLSearchParams, choice: RangeChoice): URLSearchParams {
  const next = new URLSearchParams(params);
  next.delete('from');
  next.delete('to');
  if (choice.kind === 'preset') {
    if (choice.preset === '1h') next.delete('range');
    else next.set('range', choice.preset);
  } else {
    next.set('range', 'custom');
    next.set('from', new Date(choice.from * 1000).toISOString());
    next.set('to', new Date(choice.to * 1000).toISOString());
  }
  return next;
}

/** The window to ask for now: `start/end` in epoch seconds, aligned to the step. */
export function windowOf(choice: RangeChoice, nowMs: number = Date.now()): { start: number; end: number; step: number } {
  if (choice.kind === 'custom') {
    const step = stepFor(choice.to - choice.from);
    return { start: choice.from, end: choice.to, step };
  }
  const span = PRESET_SECONDS[choice.preset];
  const step = stepFor(span);
  const end = Math.ceil(nowMs / 1000 / step) * step;
  return { start: end - span, end, step };
}

/** A stable key of the choice for the query cache (not the moving window). */
export function rangeKey(choice: RangeChoice): string {
  return choice.kind === 'preset' ? choice.preset : `${choice.from}-${choice.to}`;
}

/** `YYYY-MM-DDTHH:mm` in local time, the value of a datetime-local input. */
export function toLocalInput(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Epoch seconds of a datetime-local value (local time), or null. */
export function fromLocalInput(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return null;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? Math.floor(t / 1000) : null;
}

/** `YYYY-MM` of a date (local time). */
export function monthOf(date: Date): string {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}`;
}

export function isMonth(value: string | null): value is string {
  return value !== null && /^\d{4}-(0[1-9]|1[0-2])$/.test(value);
}

/** Epoch seconds of an ISO string or a number (seconds, or milliseconds when large). */
export function toEpochSeconds(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return value > 1e11 ? Math.floor(value / 1000) : value;
  if (/^\d+(\.\d+)?$/.test(value)) return toEpochSeconds(Number(value));
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.floor(t / 1000) : null;
}
