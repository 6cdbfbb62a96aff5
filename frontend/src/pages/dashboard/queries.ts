/**
 * The dashboard's data: one GET /api/dashboard/, kept live by the socket groups the answer names
 * (`groups`): any event on them refetches, debounced, so a burst of watcher events costs one
 * request. A refetch also runs every minute (freshness words like "stale" move with time alone).
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef } from 'react';
import { request } from '../../api/request';
import { getSocket } from '../../lib/socket';
import type { Dashboard } from './types';

export const dashboardKey = ['dashboard'] as const;
export const REFETCH_DEBOUNCE_MS = 1500;
/** A steady stream of events still refetches at least this often. */
export const REFETCH_MAX_WAIT_MS = 5000;
export const REFRESH_MS = 60_000;

export function fetchDashboard(): Promise<Dashboard> {
  return request<Dashboard>('GET', '/api/dashboard/');
}

export function useDashboard() {
  return useQuery({ queryKey: dashboardKey, queryFn: fetchDashboard, refetchInterval: REFRESH_MS, staleTime: 0 });
}

/** Calls `fn` once events stop for `wait` ms, and at least every `maxWait` ms while they keep coming. */
export function debounce(fn: () => void, wait: number, maxWait: number): { call: () => void; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let first: number | null = null;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    first = null;
    fn();
  };
  return {
    call: () => {
      const now = Date.now();
      first ??= now;
      if (timer) clearTimeout(timer);
      const due = Math.min(wait, Math.max(0, first + maxWait - now));
      timer = setTimeout(fire, due);
    },
    cancel: () => {
      if (timer) clearTimeout(timer);
      timer = null;
      first = null;
    },
  };
}

/** Subscribes every group in `groups` and refetches the dashboard (debounced) on their events. */
export function useDashboardLive(groups: readonly string[] | undefined): void {
  const queryClient = useQueryClient();
  const refetch = useCallback(
    () => void queryClient.invalidateQueries({ queryKey: dashboardKey }),
    [queryClient],
  );
  const refetchRef = useRef(refetch);
  refetchRef.current = refetch;
  const key = (groups ?? []).join(' ');
  useEffect(() => {
    if (!key) return undefined;
    const debounced = debounce(() => refetchRef.current(), REFETCH_DEBOUNCE_MS, REFETCH_MAX_WAIT_MS);
    const socket = getSocket();
    const offs = key.split(' ').map((group) =>
      socket.subscribe(group, { onEvent: debounced.call, onResync: debounced.call }),
    );
    return () => {
      debounced.cancel();
      offs.forEach((off) => off());
    };
  }, [key]);
}
