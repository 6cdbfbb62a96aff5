/**
 * The audit log: filters (who, action, object, workspace, cluster, outcome, time), keyset paging
 * through the cursor the API answers, the live feed and the CSV export.
 *
 * Live: `audit.created` events from the `audit` socket group are prepended to the first page of
 * the current list when they match its filters (the same rules as the server's, so a filtered
 * list stays live too); a seq gap refetches.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { api, portalFetch, unwrap } from '../api/client';
import { toApiError } from '../api/errors';
import { buildUrl } from '../api/request';
import type { Outcome } from '../api/types';
import { useKeysetList, type KeysetPage } from '../components/table';
import { useSubscription, type SocketEvent } from '../lib/socket';
import type { ScopedAuditQuery, ScopedAuditRecord } from './types';

export interface AuditFilters {
  actor: string;
  action: string;
  /** type, id or part of the object's name */
  target: string;
  /** workspace name or id */
  workspace: string;
  /** cluster name or id */
  cluster: string;
  outcome: Outcome | '';
  /** YYYY-MM-DD, local time, inclusive */
  from: string;
  /** YYYY-MM-DD, local time, inclusive */
  to: string;
}

export const FILTER_KEYS = ['actor', 'action', 'target', 'workspace', 'cluster', 'outcome', 'from', 'to'] as const;
export const EMPTY_FILTERS: AuditFilters = {
  actor: '',
  action: '',
  target: '',
  workspace: '',
  cluster: '',
  outcome: '',
  from: '',
  to: '',
};
export const OUTCOMES: readonly Outcome[] = ['success', 'denied', 'failure'];
/** Live records kept on the first page before older ones need a refetch. */
const MAX_LIVE_ROWS = 500;
/** The server's cap on one export (PORTAL_AUDIT_EXPORT_MAX_ROWS' default; docs/audit.md). */
export const EXPORT_LIMIT = 100000;

export const auditKey = ['audit'] as const;
export const auditListKey = (filters: AuditFilters) => [...auditKey, 'list', filters] as const;

export function activeFilterCount(filters: AuditFilters): number {
  return FILTER_KEYS.filter((k) => filters[k] !== '').length;
}

export function hasFilters(filters: AuditFilters): boolean {
  return activeFilterCount(filters) > 0;
}

function localDayBoundary(day: string, end: boolean): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const date = new Date(`${day}T${end ? '23:59:59.999' : '00:00:00'}`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The API's query parameters; empty filters are left out. */
export function toQuery(filters: AuditFilters, cursor: string | null = null): ScopedAuditQuery {
  const query: ScopedAuditQuery = {};
  if (filters.actor) query.actor = filters.actor;
  if (filters.action) query.action = filters.action;
  if (filters.target) query.target = filters.target;
  if (filters.workspace) query.workspace = filters.workspace;
  if (filters.cluster) query.cluster = filters.cluster;
  if (filters.outcome) query.outcome = filters.outcome;
  const since = localDayBoundary(filters.from, false);
  const until = localDayBoundary(filters.to, true);
  if (since) query.since = since;
  if (until) query.until = until;
  if (cursor) query.cursor = cursor;
  return query;
}

function scopeMatches(scope: ScopedAuditRecord['workspace'], wanted: string): boolean {
  if (!scope) return false;
  return scope.name === wanted || (/^\d+$/.test(wanted) && scope.id === Number(wanted));
}

/** Does a live record belong in the list these filters select? (The server's rules.) */
export function matchesFilters(record: ScopedAuditRecord, filters: AuditFilters): boolean {
  if (filters.actor && (record.actor ?? '').toLowerCase() !== filters.actor.toLowerCase()) return false;
  if (filters.action) {
    const ok = filters.action.endsWith('*')
      ? record.action.startsWith(filters.action.slice(0, -1))
      : record.action === filters.action;
    if (!ok) return false;
  }
  if (filters.target) {
    const wanted = filters.target;
    const ok =
      record.target_type === wanted ||
      record.target_id === wanted ||
      record.target_repr.toLowerCase().includes(wanted.toLowerCase());
    if (!ok) return false;
  }
  if (filters.workspace && !scopeMatches(record.workspace, filters.workspace)) return false;
  if (filters.cluster && !scopeMatches(record.cluster, filters.cluster)) return false;
  if (filters.outcome && record.outcome !== filters.outcome) return false;
  const when = Date.parse(record.timestamp);
  const since = localDayBoundary(filters.from, false);
  const until = localDayBoundary(filters.to, true);
  if (since && when < Date.parse(since)) return false;
  if (until && when > Date.parse(until)) return false;
  return true;
}

export async function fetchAuditPage(filters: AuditFilters, cursor: string | null): Promise<KeysetPage<ScopedAuditRecord>> {
  const query = toQuery(filters, cursor);
  const page = unwrap(await api.GET('/api/audit/', { params: { query } }));
  return { results: page.results as ScopedAuditRecord[], next: page.next ?? null };
}

export function useAuditList(filters: AuditFilters) {
  return useKeysetList<ScopedAuditRecord>({
    queryKey: auditListKey(filters),
    fetchPage: (cursor) => fetchAuditPage(filters, cursor),
  });
}

function isAuditRecord(value: unknown): value is ScopedAuditRecord {
  return (
    typeof value === 'object' &&
    value !== null &&
    'id' in value &&
    typeof value.id === 'number' &&
    'action' in value &&
    typeof value.action === 'string' &&
    'timestamp' in value &&
    typeof value.timestamp === 'string'
  );
}

interface Pages {
  pages: KeysetPage<ScopedAuditRecord>[];
  pageParams: (string | null)[];
}

export function prependRecord(data: Pages | undefined, record: ScopedAuditRecord): Pages | undefined {
  if (!data || data.pages.length === 0) return data; // nothing loaded yet: the first fetch will include it
  if (data.pages.some((p) => p.results.some((r) => r.id === record.id))) return data;
  const [first, ...rest] = data.pages;
  if (!first) return data;
  const results = [record, ...first.results].slice(0, MAX_LIVE_ROWS);
  return { ...data, pages: [{ ...first, results }, ...rest] };
}

/** Subscribes to the `audit` group while mounted and keeps the current list live. */
export function useLiveAudit(filters: AuditFilters, onRecord?: () => void): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type !== 'audit.created' || !isAuditRecord(event.data)) return;
      const record = event.data;
      if (!matchesFilters(record, filters)) return;
      queryClient.setQueryData<Pages>(auditListKey(filters), (data) => prependRecord(data, record));
      onRecord?.();
    },
    [queryClient, filters, onRecord],
  );
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: auditKey }), [queryClient]);
  useSubscription('audit', onEvent, onResync);
}

/** The export URL for these filters (GET, CSV). */
export function exportUrl(filters: AuditFilters): string {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(toQuery(filters))) if (typeof value === 'string') query[key] = value;
  return buildUrl('/api/audit/export/', query);
}

function filenameOf(response: Response): string {
  const disposition = response.headers.get('Content-Disposition') ?? '';
  const m = disposition.match(/filename="([^"]+)"/);
  return m?.[1] ?? 'audit.csv';
}

/** Download the CSV of the current filters: a 400 (too many rows) throws its ApiError instead. */
export async function downloadExport(filters: AuditFilters): Promise<string> {
  const response = await portalFetch(
    new Request(exportUrl(filters), { headers: { Accept: 'text/csv' }, credentials: 'same-origin' }),
  );
  if (!response.ok) {
    let body: unknown = undefined;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    throw toApiError(response, body);
  }
  const blob = await response.blob();
  const name = filenameOf(response);
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return name;
}
