/**
 * Live updates of the provisioning pages (provisioning/access.py, "Socket groups"):
 * - group `provisioning`: `provisioned.updated` (provisioned_row) patches the lists and an open
 *   cluster page; a row we do not hold refetches the lists;
 * - group `provisioning.<id>`: `provisioned.updated` patches the cluster page (its progress) and
 *   refetches the pools; `operation.updated` (operation_row) patches the page's operations.
 * A seq gap refetches what the group feeds.
 */
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef } from 'react';
import { useSubscription, type SocketEvent } from '../lib/socket';
import { clusterKey, clustersKey, operationsKey, poolsKey, provisioningKey } from './queries';
import type { Operation, ProvisionedDetail, ProvisionedRow } from './types';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const isProvisionedRow = (v: unknown): v is ProvisionedRow => isRecord(v) && typeof v.id === 'number' && typeof v.phase === 'string' && typeof v.name === 'string';
export const isOperationRow = (v: unknown): v is Operation => isRecord(v) && typeof v.id === 'number' && typeof v.provisioned === 'number' && typeof v.kind === 'string';

export function applyProvisioned(queryClient: QueryClient, row: ProvisionedRow): void {
  let missing = false;
  for (const [key, data] of queryClient.getQueriesData<ProvisionedRow[]>({ queryKey: clustersKey() })) {
    if (!Array.isArray(data)) continue;
    const index = data.findIndex((r) => r.id === row.id);
    if (index < 0) {
      missing = true;
      continue;
    }
    const next = data.slice();
    next[index] = { ...data[index], ...row };
    queryClient.setQueryData(key, next);
  }
  if (missing) void queryClient.invalidateQueries({ queryKey: clustersKey() });
  queryClient.setQueryData<ProvisionedDetail>(clusterKey(row.id), (old) => (old ? { ...old, ...row } : old));
}

export function applyOperation(queryClient: QueryClient, op: Operation): void {
  queryClient.setQueryData<ProvisionedDetail>(clusterKey(op.provisioned), (old) => {
    if (!old) return old;
    const index = old.operations.findIndex((o) => o.id === op.id);
    const operations = index < 0 ? [op, ...old.operations] : old.operations.map((o) => (o.id === op.id ? { ...o, ...op } : o));
    return { ...old, operations };
  });
  queryClient.setQueryData<Operation[]>(operationsKey(op.provisioned), (old) => {
    if (!old) return old;
    return old.some((o) => o.id === op.id) ? old.map((o) => (o.id === op.id ? { ...o, ...op } : o)) : [op, ...old];
  });
}

/** Keeps every provisioning list current (group `provisioning`). */
export function useProvisioningLive(enabled = true): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type === 'provisioned.updated' && isProvisionedRow(event.data)) applyProvisioned(queryClient, event.data);
    },
    [queryClient],
  );
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: provisioningKey }), [queryClient]);
  useSubscription(enabled ? 'provisioning' : null, onEvent, onResync);
}

/** Pools are read from the management cluster: refetched at most every POOLS_EVERY ms while rows stream in. */
export const POOLS_EVERY = 2000;

/** Keeps one provisioned cluster's page current (group `provisioning.<id>`). */
export function useProvisionedLive(id: number): void {
  const queryClient = useQueryClient();
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  const refetchPools = useCallback(() => {
    if (timer.current) return; // a trailing refetch is already planned
    const wait = Math.max(0, last.current + POOLS_EVERY - Date.now());
    timer.current = setTimeout(() => {
      timer.current = null;
      last.current = Date.now();
      void queryClient.invalidateQueries({ queryKey: poolsKey(id) });
    }, wait);
  }, [queryClient, id]);
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type === 'provisioned.updated' && isProvisionedRow(event.data)) {
        applyProvisioned(queryClient, event.data);
        refetchPools();
      } else if (event.type === 'operation.updated' && isOperationRow(event.data)) {
        applyOperation(queryClient, event.data);
      }
    },
    [queryClient, refetchPools],
  );
  const onResync = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: clusterKey(id) });
    void queryClient.invalidateQueries({ queryKey: poolsKey(id) });
    void queryClient.invalidateQueries({ queryKey: operationsKey(id) });
  }, [queryClient, id]);
  useSubscription(Number.isInteger(id) && id > 0 ? `provisioning.${id}` : null, onEvent, onResync);
}
