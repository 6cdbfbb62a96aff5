/** Promote, confirm, abort and the old/new pods of a release (docs/catalog-api.md, "Strategies"). */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { api, unwrap } from '../../api/client';
import type { ApiError } from '../../api/errors';
import { useSubscription, type SocketEvent } from '../../lib/socket';
import { releaseKey, releasesKey } from '../queries';
import type { Release } from '../types';
import type { ReleasePods } from './types';

const byId = (id: number) => ({ params: { path: { id: String(id) } } });
export type StrategyAction = 'promote' | 'confirm' | 'abort';

export const strategyApi = {
  pods: async (id: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/releases/{id}/pods/', { ...byId(id), signal })) as unknown as ReleasePods,
  act: async (id: number, action: StrategyAction): Promise<Release> => {
    if (action === 'promote') return unwrap(await api.POST('/api/catalog/releases/{id}/promote/', byId(id)));
    if (action === 'confirm') return unwrap(await api.POST('/api/catalog/releases/{id}/confirm/', byId(id)));
    return unwrap(await api.POST('/api/catalog/releases/{id}/abort/', byId(id)));
  },
};

export const releasePodsKey = (id: number) => [...releaseKey(id), 'pods'] as const;

/** The release's pods, refetched when `release.updated` / `revision.updated` for it arrive on `workspace.<id>`. */
export function useReleasePods(id: number, workspaceId: number | null) {
  const queryClient = useQueryClient();
  const pods = useQuery({ queryKey: releasePodsKey(id), queryFn: ({ signal }) => strategyApi.pods(id, signal), refetchInterval: 10_000 });
  const onEvent = useCallback(
    (event: SocketEvent) => {
      const data = event.data as { id?: unknown; release?: unknown } | null;
      const about = event.type === 'release.updated' ? data?.id : event.type === 'revision.updated' ? data?.release : undefined;
      if (about === id) void queryClient.invalidateQueries({ queryKey: releasePodsKey(id) });
    },
    [id, queryClient],
  );
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: releasePodsKey(id) }), [id, queryClient]);
  useSubscription(workspaceId !== null ? `workspace.${workspaceId}` : null, onEvent, onResync);
  return pods;
}

export function useStrategyAction(id: number) {
  const queryClient = useQueryClient();
  return useMutation<Release, ApiError, StrategyAction>({
    mutationFn: (action) => strategyApi.act(id, action),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: releaseKey(id) });
      void queryClient.invalidateQueries({ queryKey: releasesKey() });
    },
  });
}
