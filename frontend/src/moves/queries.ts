/**
 * Query keys, hooks and live updates of moves:
 *   ['moves', 'list', query]   moves of a service map or workspace
 *   ['moves', 'move', id]      one move with its ledger (steps) and per-release targets
 * Move rows arrive on the workspace's group `workspace.<id>` as `move.updated`.
 */
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import type { ApiError } from '../api/errors';
import { useSubscription, type SocketEvent } from '../lib/socket';
import { movesApi } from './api';
import type { Move, MoveBody, MovePlan } from './types';

export const movesKey = ['moves'] as const;
export const moveListKey = (query?: object) => (query ? ([...movesKey, 'list', query] as const) : ([...movesKey, 'list'] as const));
export const moveKey = (id: number) => [...movesKey, 'move', id] as const;

export function useMoves(query: { service_map?: number; workspace?: number }, enabled = true) {
  return useQuery({ queryKey: moveListKey(query), queryFn: ({ signal }) => movesApi.list(query, signal), enabled });
}

export function useMove(id: number) {
  return useQuery({ queryKey: moveKey(id), queryFn: ({ signal }) => movesApi.get(id, signal), enabled: Number.isInteger(id) && id > 0 });
}

export function useMovePlan() {
  return useMutation<MovePlan, ApiError, MoveBody>({ mutationFn: (body) => movesApi.plan(body) });
}

export function useStartMove() {
  const queryClient = useQueryClient();
  return useMutation<Move, ApiError, MoveBody>({
    mutationFn: (body) => movesApi.create(body),
    onSuccess: (row) => {
      queryClient.setQueryData(moveKey(row.id), row);
      void queryClient.invalidateQueries({ queryKey: moveListKey() });
    },
  });
}

export function useRetireSource(id: number) {
  const queryClient = useQueryClient();
  return useMutation<Move, ApiError, string>({
    mutationFn: (confirm) => movesApi.retire(id, confirm),
    onSuccess: (row) => {
      queryClient.setQueryData<Move>(moveKey(id), (old) => (old ? { ...old, ...row } : row));
      void queryClient.invalidateQueries({ queryKey: moveListKey() });
    },
  });
}

const isMoveRow = (v: unknown): v is Move =>
  typeof v === 'object' && v !== null && typeof (v as Move).id === 'number' && typeof (v as Move).status === 'string' && Array.isArray((v as Move).steps);

export function applyMove(queryClient: QueryClient, row: Move): void {
  queryClient.setQueryData<Move>(moveKey(row.id), (old) => (old ? { ...old, ...row, releases: row.releases ?? old.releases } : old));
  let missing = false;
  for (const [key, data] of queryClient.getQueriesData<Move[]>({ queryKey: moveListKey() })) {
    if (!Array.isArray(data)) continue;
    if (!data.some((m) => m.id === row.id)) {
      missing = true;
      continue;
    }
    queryClient.setQueryData(key, data.map((m) => (m.id === row.id ? { ...m, ...row } : m)));
  }
  if (missing) void queryClient.invalidateQueries({ queryKey: moveListKey() });
}

/** Keeps the moves of one workspace current (group `workspace.<id>`, `move.updated`). */
export function useMovesLive(workspaceId: number | null | undefined, moveId?: number): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type === 'move.updated' && isMoveRow(event.data)) {
        applyMove(queryClient, event.data);
        // the row on the group may leave out the per-release targets: the ledger page refetches them
        if (moveId === event.data.id && event.data.releases === undefined) void queryClient.invalidateQueries({ queryKey: moveKey(moveId) });
      }
    },
    [queryClient, moveId],
  );
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: movesKey }), [queryClient]);
  // The ledger page starts from the row the create answered (or a fetch made before it knew the
  // workspace): a short move may have finished before the subscription was live, so look again.
  const onSubscribed = useCallback(() => {
    if (moveId !== undefined) void queryClient.invalidateQueries({ queryKey: moveKey(moveId) });
  }, [queryClient, moveId]);
  const ok = typeof workspaceId === 'number' && Number.isInteger(workspaceId) && workspaceId > 0;
  useSubscription(ok ? `workspace.${workspaceId}` : null, onEvent, onResync, onSubscribed);
}
