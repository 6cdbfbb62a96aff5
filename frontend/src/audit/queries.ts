/**
 * Audit log queries and the live feed. Filters and cursor are part of the
 * query key; `audit.created` events from the socket are prepended to the
 * unfiltered first page in the cache, and a seq gap refetches it.
 */
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { api, unwrap } from '../api/client';
import type { AuditPage, AuditQuery, AuditRecord, Outcome } from '../api/types';
import { useSubscription, type SocketEvent } from '../lib/socket';

export interface AuditFilters {
  actor: string;
  action: string;
  outcome: Outcome | '';
  /** YYYY-MM-DD, local time, inclusive */
  from: string;
  /** YYYY-MM-DD, local time, inclusive */
  to: string;
}

export const EMPTY_FILTERS: AuditFilters = { actor: '', action: '', outcome: '', from: '', to: '' };
export const OUTCOMES: readonly Outcome[] = ['success', 'denied', 'failure'];
/** Live records kept on the first page before older ones need a refetch. */
const MAX_LIVE_ROWS = 500;

export const auditKey = ['audit'] as const;
export const auditListKey = (filters: AuditFilters, cursor: string | null) =>
  [...auditKey, 'list', filters, cursor] as const;

export function hasFilters(filters: AuditFilters): boolean {
  return Object.values(filters).some((v) => v !== '');
}

function localDayBoundary(day: string, end: boolean): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const date = new Date(`${day}T${end ? '23:59:59.999' : '00:00:00'}`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The API's query parameters; empty filters are left out. */
export function toQuery(filters: AuditFilters, cursor: string | null): AuditQuery {
  const query: AuditQuery = {};
  if (filters.actor) query.actor = filters.actor;
  if (filters.action) query.action = filters.action;
  if (filters.outcome) query.outcome = filters.outcome;
  const since = localDayBoundary(filters.from, false);
  const until = localDayBoundary(filters.to, true);
  if (since) query.since = since;
  if (until) query.until = until;
  if (cursor) query.cursor = cursor;
  return query;
}

export function useAuditRecords(filters: AuditFilters, cursor: string | null) {
  return useQuery({
    queryKey: auditListKey(filters, cursor),
    queryFn: async () => unwrap(await api.GET('/api/audit/', { params: { query: toQuery(filters, cursor) } })),
    placeholderData: keepPreviousData,
  });
}

function isAuditRecord(value: unknown): value is AuditRecord {
  return (
    typeof value === 'object' &&
    value !== null &&
    'id' in value &&
    typeof value.id === 'number' &&
    'action' in value &&
    'timestamp' in value
  );
}

export function prependRecord(page: AuditPage | undefined, record: AuditRecord): AuditPage | undefined {
  if (!page) return page; // nothing loaded yet: the first fetch will include it
  if (page.results.some((r) => r.id === record.id)) return page;
  return { ...page, results: [record, ...page.results].slice(0, MAX_LIVE_ROWS) };
}

/** Subscribes to the `audit` group while mounted and keeps the cache current. */
export function useLiveAudit(enabled: boolean): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type !== 'audit.created' || !isAuditRecord(event.data)) return;
      const record = event.data;
      queryClient.setQueryData<AuditPage>(auditListKey(EMPTY_FILTERS, null), (page) =>
        prependRecord(page, record),
      );
    },
    [queryClient],
  );
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: auditKey }), [queryClient]);
  useSubscription(enabled ? 'audit' : null, onEvent, onResync);
}
