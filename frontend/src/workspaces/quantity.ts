/**
 * Kubernetes quantities ("500m", "4Gi", "1.5", "2e3") as numbers, so quota use can be drawn as
 * bars and compared. Display keeps the API's canonical strings; only the bars use numbers.
 */

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/** The value of a quantity, or null when it is missing or not a quantity. */
export function parseQuantity(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  const m = value.trim().match(/^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/);
  if (!m) return null;
  const factor = SUFFIX[m[2] ?? ''];
  if (factor === undefined) return null;
  return Number(m[1]) * factor;
}

/** Whether a string is a quantity the API would accept for a quota (non-negative). */
export function isQuantity(value: string): boolean {
  const n = parseQuantity(value);
  return n !== null && n >= 0;
}

/** Quota keys the console offers, in this order (docs/workspaces-api.md). */
export const QUOTA_KEYS = [
  'requests.cpu',
  'requests.memory',
  'limits.cpu',
  'limits.memory',
  'pods',
  'services',
  'services.loadbalancers',
  'persistentvolumeclaims',
  'requests.storage',
] as const;

export const STORAGE_CLASS_SUFFIXES = ['requests.storage', 'persistentvolumeclaims'] as const;
export const storageClassKey = (cls: string, what: (typeof STORAGE_CLASS_SUFFIXES)[number]) =>
  `${cls}.storageclass.storage.k8s.io/${what}`;

/** Keys of a quota in display order: the known keys first, then the rest by name. */
export function orderedKeys(...quotas: (Record<string, unknown> | undefined)[]): string[] {
  const all = new Set<string>();
  for (const q of quotas) for (const k of Object.keys(q ?? {})) all.add(k);
  const known = QUOTA_KEYS.filter((k) => all.has(k));
  const rest = [...all].filter((k) => !(QUOTA_KEYS as readonly string[]).includes(k)).sort();
  return [...known, ...rest];
}

/** Percentage of `used` in `total` (0–100, and >100 capped), null when there is no total. */
export function percent(used: string | undefined, total: string | undefined): number | null {
  const u = parseQuantity(used) ?? 0;
  const t = parseQuantity(total);
  if (t === null || t <= 0) return null;
  return Math.round((u / t) * 1000) / 10;
}

/** Drops empty values from a quota form. */
export function cleanQuota(quota: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(quota)) if (v.trim()) out[k] = v.trim();
  return out;
}
