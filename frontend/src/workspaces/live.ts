/**
 * Live updates of the workspaces pages from the `workspace.<id>` group (docs/workspaces-api.md,
 * "Live events"): rows in events patch the query cache in place; events without a row, rows we
 * do not hold yet, and seq gaps refetch.
 */
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { useSubscription, type SocketEvent } from '../lib/socket';
import {
  allServiceMapsKey,
  allocationsKey,
  membersKey,
  quotaOverviewKey,
  serviceMapKey,
  serviceMapsKey,
  workspaceKey,
  workspacesKey,
} from './queries';
import type { Allocation, Page, ServiceMap, Workspace } from './types';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const hasId = (value: unknown): value is Record<string, unknown> & { id: number } => isRecord(value) && typeof value.id === 'number';
const isServiceMap = (value: unknown): value is ServiceMap => hasId(value) && typeof value.namespace === 'string';
const isAllocation = (value: unknown): value is Allocation => hasId(value) && isRecord(value.cluster) && isRecord(value.quota);
const isWorkspace = (value: unknown): value is Workspace => hasId(value) && typeof value.name === 'string';

/** Replaces (by id) or drops a row in a page; `found` says whether it was there. */
export function patchPage<T extends { id: number }>(
  page: Page<T> | undefined,
  row: T | null,
  id: number,
): { page: Page<T> | undefined; found: boolean } {
  if (!page) return { page, found: false };
  const index = page.results.findIndex((r) => r.id === id);
  if (index < 0) return { page, found: false };
  const results = page.results.slice();
  if (row) results[index] = { ...results[index], ...row };
  else results.splice(index, 1);
  return { page: { ...page, results }, found: true };
}

export function applyServiceMapUpdate(queryClient: QueryClient, workspaceId: number, row: ServiceMap): void {
  let missing = false;
  const lists = [
    ...queryClient.getQueriesData<Page<ServiceMap>>({ queryKey: serviceMapsKey(workspaceId) }),
    ...queryClient.getQueriesData<Page<ServiceMap>>({ queryKey: allServiceMapsKey() }),
  ];
  for (const [key, page] of lists) {
    const result = patchPage(page, row, row.id);
    if (result.found) queryClient.setQueryData(key, result.page);
    else if (page) missing = true;
  }
  queryClient.setQueryData<ServiceMap>(serviceMapKey(workspaceId, row.id), (old) => (old ? { ...old, ...row } : old));
  if (missing) {
    void queryClient.invalidateQueries({ queryKey: serviceMapsKey(workspaceId) });
    void queryClient.invalidateQueries({ queryKey: allServiceMapsKey() });
  }
  // Shares and use roll up into the allocation and the workspace's quota use.
  void queryClient.invalidateQueries({ queryKey: allocationsKey(workspaceId) });
  void queryClient.invalidateQueries({ queryKey: workspaceKey(workspaceId), exact: true });
}

export function applyServiceMapDeleted(queryClient: QueryClient, workspaceId: number, id: number): void {
  for (const key of [serviceMapsKey(workspaceId), allServiceMapsKey()]) {
    queryClient.setQueriesData<Page<ServiceMap>>({ queryKey: key }, (page) => patchPage(page, null, id).page);
  }
  void queryClient.invalidateQueries({ queryKey: serviceMapKey(workspaceId, id) });
  void queryClient.invalidateQueries({ queryKey: allocationsKey(workspaceId) });
  void queryClient.invalidateQueries({ queryKey: workspaceKey(workspaceId), exact: true });
}

export function applyAllocationUpdate(queryClient: QueryClient, workspaceId: number, row: Allocation): void {
  const list = queryClient.getQueryData<Allocation[]>(allocationsKey(workspaceId));
  if (list && list.some((a) => a.id === row.id)) {
    queryClient.setQueryData<Allocation[]>(allocationsKey(workspaceId), list.map((a) => (a.id === row.id ? { ...a, ...row } : a)));
  } else {
    void queryClient.invalidateQueries({ queryKey: allocationsKey(workspaceId) });
  }
  void queryClient.invalidateQueries({ queryKey: quotaOverviewKey });
}

export function applyWorkspaceEvent(queryClient: QueryClient, workspaceId: number, event: SocketEvent): void {
  const data = event.data;
  switch (event.type) {
    case 'workspace.updated':
      // The event's row is built for no one in particular: my_role/my_grants are the viewer's own.
      if (isWorkspace(data))
        queryClient.setQueryData<Workspace>(workspaceKey(workspaceId), (old) =>
          old ? { ...old, ...data, my_role: old.my_role, my_grants: old.my_grants } : old,
        );
      void queryClient.invalidateQueries({ queryKey: [...workspacesKey, 'list'] });
      break;
    case 'allocation.updated':
      if (isAllocation(data)) applyAllocationUpdate(queryClient, workspaceId, data);
      else void queryClient.invalidateQueries({ queryKey: allocationsKey(workspaceId) });
      break;
    case 'servicemap.updated':
      if (isServiceMap(data)) applyServiceMapUpdate(queryClient, workspaceId, data);
      else void queryClient.invalidateQueries({ queryKey: serviceMapsKey(workspaceId) });
      break;
    case 'servicemap.deleted':
      if (hasId(data)) applyServiceMapDeleted(queryClient, workspaceId, data.id);
      break;
    case 'member.changed':
      void queryClient.invalidateQueries({ queryKey: membersKey(workspaceId) });
      // My own role may have changed: my_grants come with the workspace row.
      void queryClient.invalidateQueries({ queryKey: workspaceKey(workspaceId), exact: true });
      void queryClient.invalidateQueries({ queryKey: [...workspacesKey, 'list'] });
      break;
  }
}

/** Keeps everything cached about one workspace current while a page shows it. */
export function useWorkspaceLive(workspaceId: number | null): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (workspaceId !== null) applyWorkspaceEvent(queryClient, workspaceId, event);
    },
    [queryClient, workspaceId],
  );
  const onResync = useCallback(() => {
    if (workspaceId === null) return;
    void queryClient.invalidateQueries({ queryKey: workspaceKey(workspaceId) });
    void queryClient.invalidateQueries({ queryKey: allServiceMapsKey() });
  }, [queryClient, workspaceId]);
  useSubscription(workspaceId !== null && Number.isInteger(workspaceId) ? `workspace.${workspaceId}` : null, onEvent, onResync);
}

/** A render-nothing component, so a list can listen to the group of each workspace it shows. */
export function WorkspaceLive({ id }: { id: number }) {
  useWorkspaceLive(id);
  return null;
}
