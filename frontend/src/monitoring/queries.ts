/**
 * Query keys and hooks of the monitoring pages (the query cache is the only store):
 *   ['monitoring', 'chart', scope, range]   a chart; the window is computed when the query runs,
 *                                           so a relative range (last 6 h) moves on each refetch
 *   ['monitoring', 'top', what, scope]      a top-N list
 *   ['monitoring', 'events', query]         events, keyset pages ("load more")
 *   ['monitoring', 'metering', query]       a month's report
 *   ['monitoring', 'prices']                price sheets
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiError } from '../api/errors';
import { useMe } from '../auth/queries';
import { cursorFromUrl } from '../components/Pager';
import { monitoringApi } from './api';
import { rangeKey, windowOf, type RangeChoice } from './range';
import type { ChartScope, EventQuery, MeteringQuery, PriceSheet, PriceSheetBody, TopResource, TopWhat } from './types';

export const monitoringKey = ['monitoring'] as const;
export const pricesKey = [...monitoringKey, 'prices'] as const;

/** Charts of a relative range are refreshed this often (samples arrive every 30 s). */
export const CHART_REFRESH_MS = 60_000;

export function useChart(scope: ChartScope, range: RangeChoice, { enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: [...monitoringKey, 'chart', scope, rangeKey(range)],
    queryFn: ({ signal }) => monitoringApi.chart(scope, windowOf(range), signal),
    placeholderData: keepPreviousData,
    refetchInterval: range.kind === 'preset' ? CHART_REFRESH_MS : false,
    staleTime: 15_000,
    enabled,
  });
}

export function useTop(
  what: TopWhat,
  scope: { cluster?: number; workspace?: number; service_map?: number },
  limit = 10,
  enabled = true,
  resource?: TopResource,
) {
  return useQuery({
    queryKey: [...monitoringKey, 'top', what, scope, limit, resource ?? ''],
    queryFn: ({ signal }) => monitoringApi.top(what, scope, limit, signal, resource),
    refetchInterval: CHART_REFRESH_MS,
    staleTime: 15_000,
    enabled,
  });
}

export function useEvents(query: EventQuery) {
  return useInfiniteQuery({
    queryKey: [...monitoringKey, 'events', query],
    queryFn: ({ pageParam, signal }) => monitoringApi.events(query, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => cursorFromUrl(last.next),
  });
}

export function useMetering(query: MeteringQuery) {
  return useQuery({
    queryKey: [...monitoringKey, 'metering', query],
    queryFn: ({ signal }) => monitoringApi.metering(query, signal),
    placeholderData: keepPreviousData,
  });
}

export function usePrices() {
  return useQuery({ queryKey: pricesKey, queryFn: ({ signal }) => monitoringApi.prices(signal) });
}

export function useSavePrice(id: number | null) {
  const queryClient = useQueryClient();
  return useMutation<PriceSheet, ApiError, PriceSheetBody>({
    mutationFn: (body) => (id ? monitoringApi.patchPrice(id, body) : monitoringApi.createPrice(body)),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: pricesKey });
      void queryClient.invalidateQueries({ queryKey: [...monitoringKey, 'metering'] });
    },
  });
}

export function useDeletePrice() {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, number>({
    mutationFn: (id) => monitoringApi.deletePrice(id),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: pricesKey });
      void queryClient.invalidateQueries({ queryKey: [...monitoringKey, 'metering'] });
    },
  });
}

/** Admins, operators and auditors see the fleet, clusters, nodes and idle capacity. */
export function useSeesInfrastructure(): { known: boolean; sees: boolean; isAdmin: boolean } {
  const me = useMe();
  const role = me.data?.role;
  const isAdmin = me.data?.is_admin === true || role === 'admin';
  return { known: me.data !== undefined, sees: isAdmin || role === 'operator' || role === 'auditor', isAdmin };
}
