/** Status words and numbers as the dashboard shows them (its own `dashboards.*` strings, so the
 * route loads no other section). */
import type { TFunction } from 'i18next';

type Lookup = (key: string, options: object) => string;

/** `dashboards.<group>.<value>`, or the value itself when the console has no word for it. */
export function word(t: TFunction, group: string, value: string): string {
  return (t as unknown as Lookup)(`dashboards.${group}.${value}`, { defaultValue: value });
}

export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return '—';
  return `${Math.round(ratio * 100)}%`;
}

export function cores(value: number): string {
  return value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

export function gib(bytes: number): string {
  const value = bytes / 1024 ** 3;
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)} GiB`;
}

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value < 90) return `${Math.round(value)} s`;
  if (value < 5400) return `${Math.round(value / 60)} min`;
  return `${Math.round(value / 3600)} h`;
}

export function money(costs: Record<string, string>): string {
  const entries = Object.entries(costs);
  if (entries.length === 0) return '—';
  return entries
    .map(([currency, amount]) => {
      try {
        return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(Number(amount));
      } catch {
        return `${amount} ${currency}`;
      }
    })
    .join(' · ');
}

/** CSS class of an attention level. */
export function level(attention: number): string {
  return ['ok', 'notice', 'warning', 'critical'][Math.max(0, Math.min(3, attention))] ?? 'ok';
}
