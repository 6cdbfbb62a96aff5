/** Number and time formatting for the clusters pages (units as on the Cocktail status screen). */
import { useEffect, useState } from 'react';
import type { Cluster, Freshness } from './types';

const GB = 1024 ** 3;

export function gb(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const value = bytes / GB;
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function cores(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value >= 100 ? value.toFixed(0) : (Math.round(value * 100) / 100).toString();
}

export function bytesHuman(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 10 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** Re-renders the caller every `intervalMs` so relative times move on. */
export function useNow(intervalMs = 15_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export type RelativeUnit = 'second' | 'minute' | 'hour' | 'day';

/** Seconds since `iso` split into the largest sensible unit; null for a missing time. */
export function ago(iso: string | null | undefined, now: number): { value: number; unit: RelativeUnit } | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return null;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return { value: s, unit: 'second' };
  if (s < 3600) return { value: Math.floor(s / 60), unit: 'minute' };
  if (s < 86400) return { value: Math.floor(s / 3600), unit: 'hour' };
  return { value: Math.floor(s / 86400), unit: 'day' };
}

export function relativeTime(iso: string | null | undefined, now: number, lang: string): string | null {
  const parts = ago(iso, now);
  if (!parts) return null;
  return new Intl.RelativeTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-US', { numeric: 'auto' }).format(
    -parts.value,
    parts.unit,
  );
}

/** A cluster whose last sync is older than this is shown stale even if the server still says fresh. */
export const STALE_AFTER_MS = 5 * 60_000;

/**
 * The freshness a row shows: the server's, made worse (never better) when the cluster is
 * unreachable or nothing has been synced for a long time (e.g. the watcher itself is down).
 */
export function effectiveFreshness(cluster: Pick<Cluster, 'freshness' | 'status' | 'last_sync' | 'enabled'>, now: number): Freshness | 'disabled' {
  if (!cluster.enabled || cluster.status === 'disabled') return 'disabled';
  if (cluster.status === 'unreachable' || cluster.freshness === 'unreachable') return 'unreachable';
  if (cluster.freshness === 'stale') return 'stale';
  if (cluster.freshness === 'syncing') return 'syncing';
  if (cluster.last_sync && now - Date.parse(cluster.last_sync) > STALE_AFTER_MS) return 'stale';
  return cluster.freshness ?? 'syncing';
}
