/** Number formatting of the monitoring pages: cores, bytes, hours, money, ratios. */

const GIB = 1024 ** 3;

export function num(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** CPU in cores: "1.25", "0.05", "120"; millicores under 0.01. */
export function coresText(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value !== 0 && Math.abs(value) < 0.01) return `${Math.round(value * 1000)}m`;
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return String(Math.round(value * 100) / 100);
}

/** Bytes in binary units: "512 MiB", "1.5 GiB". */
export function bytesText(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Math.abs(value);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  const sign = value < 0 ? '-' : '';
  return `${sign}${v >= 10 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function gibText(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  return (bytes / GIB).toFixed(2);
}

/** A value in the unit the chart API names (`cores`, `bytes`, anything else as a number). */
export function unitText(value: number | null | undefined, unit: string): string {
  if (unit === 'bytes') return bytesText(value);
  if (unit === 'cores') return coresText(value);
  if (unit === 'bytes_per_second') return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${bytesText(value)}/s`;
  if (unit === 'percent') return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${Math.round(value * 10) / 10}%`;
  if (unit === 'ratio') return percentText(value);
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return String(Math.round(value * 100) / 100);
}

/** Hours (core-hours, GiB-hours) with two decimals, grouped by the language. */
export function hoursText(value: number | string | null | undefined, lang: string): string {
  const n = num(value);
  if (n === null) return '—';
  return new Intl.NumberFormat(lang === 'ko' ? 'ko-KR' : 'en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(n);
}

/** Money in its currency ("₩12,345", "$12.34"); without a currency the bare number. */
export function moneyText(value: number | string | null | undefined, currency: string | null | undefined, lang: string): string {
  const n = num(value);
  if (n === null) return '—';
  const locale = lang === 'ko' ? 'ko-KR' : 'en-US';
  if (!currency) return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(n);
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(n);
  } catch {
    return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(n)} ${currency}`;
  }
}

export function percentText(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `${Math.round(ratio * 1000) / 10}%`;
}
