/**
 * Query keys and hooks of the object pages. The query cache is the only store:
 *   ['clusters', id, 'object', group, version, plural, namespace, name]   one object (GET objects/…)
 *   ['clusters', id, 'object', …, 'revisions' | 'dependents']            what the dialogs read
 *   ['objects', 'action', actionId]                                       an ObjectAction
 * An action is followed by its `objects.action` socket events (on `cluster.<id>.ns.<namespace>`,
 * or `cluster.<id>` for cluster-scoped objects) and polled as a fallback until its status is final.
 * What the action changed in the cluster reaches the lists through the watcher (clusters/live.ts).
 */
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef } from 'react';
import { ApiError } from '../api/errors';
import { changeEntries } from '../clusters/live';
import { useSubscription, type SocketEvent } from '../lib/socket';
import { objectsApi } from './api';
import { FINAL_STATUSES, type ObjectAction, type ObjectRef, type Propagation } from './types';

export const objectKey = (clusterId: number, ref: ObjectRef) =>
  ['clusters', clusterId, 'object', ref.group || 'core', ref.version, ref.plural, ref.namespace, ref.name] as const;
export const actionKey = (id: number) => ['objects', 'action', id] as const;

/** Polling fallback while an action runs (the socket usually answers first). */
export const ACTION_POLL_MS = 2_000;

export function isFinal(action: Pick<ObjectAction, 'status'> | undefined | null): boolean {
  return !!action && FINAL_STATUSES.includes(action.status);
}

function isAction(value: unknown): value is ObjectAction {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { id?: unknown }).id === 'number' &&
    typeof (value as { status?: unknown }).status === 'string' &&
    typeof (value as { action?: unknown }).action === 'string'
  );
}

const noRetryOnAnswer = (count: number, error: unknown) => !(error instanceof ApiError && error.status < 500) && count < 2;

export function useObject(clusterId: number, ref: ObjectRef, { enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: objectKey(clusterId, ref),
    queryFn: ({ signal }) => objectsApi.get(clusterId, ref, signal),
    enabled,
    staleTime: 10_000,
    // The editor starts from this answer: refetching under the user's cursor would be surprising.
    refetchOnWindowFocus: false,
    retry: noRetryOnAnswer,
  });
}

export function useRevisions(clusterId: number, ref: ObjectRef, enabled: boolean) {
  return useQuery({
    queryKey: [...objectKey(clusterId, ref), 'revisions'],
    queryFn: ({ signal }) => objectsApi.revisions(clusterId, ref, signal),
    enabled,
    staleTime: 0,
    retry: noRetryOnAnswer,
  });
}

export function useDependents(clusterId: number, ref: ObjectRef, enabled: boolean) {
  return useQuery({
    queryKey: [...objectKey(clusterId, ref), 'dependents'],
    queryFn: ({ signal }) => objectsApi.dependents(clusterId, ref, signal),
    enabled,
    staleTime: 0,
    retry: noRetryOnAnswer,
  });
}

/** Puts a fresh action row in the cache; a finished one makes its object's view reload. */
export function storeAction(queryClient: QueryClient, action: ObjectAction): void {
  const current = queryClient.getQueryData<ObjectAction>(actionKey(action.id));
  // Events and polls may cross: never go back from a final status to a running one.
  if (current && isFinal(current) && !isFinal(action)) return;
  queryClient.setQueryData(actionKey(action.id), action);
  if (isFinal(action) && !(current && isFinal(current))) {
    void queryClient.invalidateQueries({
      queryKey: ['clusters', action.cluster, 'object', action.group || 'core', action.version, action.plural, action.namespace],
    });
  }
}

/** An ObjectAction until its status is final: the POST's answer, socket events, a poll as fallback. */
export function useObjectAction(id: number | null) {
  return useQuery({
    queryKey: actionKey(id ?? -1),
    queryFn: ({ signal }) => objectsApi.action(id ?? -1, signal),
    enabled: id !== null,
    staleTime: 0,
    refetchInterval: (query) => (isFinal(query.state.data) ? false : ACTION_POLL_MS),
    retry: noRetryOnAnswer,
  });
}

/** The socket group an object's `objects.action` events go to. */
export function actionGroup(clusterId: number, namespace: string): string {
  return namespace ? `cluster.${clusterId}.ns.${namespace}` : `cluster.${clusterId}`;
}

/** Listens for `objects.action` events of one namespace (or cluster-scoped objects) and stores them. */
export function useActionEvents(clusterId: number, namespace: string, enabled = true): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type === 'objects.action' && isAction(event.data)) storeAction(queryClient, event.data);
    },
    [queryClient],
  );
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: ['objects', 'action'] }), [queryClient]);
  useSubscription(enabled && Number.isInteger(clusterId) ? actionGroup(clusterId, namespace) : null, onEvent, onResync);
}

/** How often at most a changed object is read again while the watcher reports changes to it. */
export const OBJECT_REFRESH_MS = 2_000;

function changedHere(data: unknown, kind: string, name: string): boolean {
  const entries = changeEntries(data);
  return entries.some(
    (e) =>
      e.kind === kind &&
      (e.truncated === true ||
        e.relisted === true ||
        [...(Array.isArray(e.upserts) ? e.upserts : []), ...(Array.isArray(e.deletes) ? e.deletes : [])].some(
          (row: unknown) => typeof row === 'object' && row !== null && (row as { name?: unknown }).name === name,
        )),
  );
}

/**
 * Reads the object again (at most every OBJECT_REFRESH_MS) when the watcher reports a change to
 * it, so the page says when someone else changed what is being edited. Full rows come on the
 * namespace's group (the cluster's for cluster-scoped kinds).
 */
export function useObjectLive(clusterId: number, ref: ObjectRef, kind: string | undefined): void {
  const queryClient = useQueryClient();
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type !== 'objects.changed' || !kind || !changedHere(event.data, kind, ref.name) || timer.current) return;
      timer.current = setTimeout(() => {
        timer.current = null;
        void queryClient.invalidateQueries({ queryKey: objectKey(clusterId, ref), exact: true });
      }, OBJECT_REFRESH_MS);
    },
    // The ref's parts identify the object (the ref itself is a new object on every render).
    [queryClient, clusterId, kind, ref.group, ref.version, ref.plural, ref.namespace, ref.name],
  );
  useSubscription(kind && Number.isInteger(clusterId) ? actionGroup(clusterId, ref.namespace) : null, onEvent);
}

// --- writes ------------------------------------------------------------------------

/** A mutation that answers an ObjectAction (202) stores it so its follower starts from it. */
function useActionMutation<V>(fn: (vars: V) => Promise<ObjectAction>) {
  const queryClient = useQueryClient();
  return useMutation<ObjectAction, ApiError, V>({
    mutationFn: fn,
    onSuccess: (action) => storeAction(queryClient, action),
  });
}

export function usePreview(clusterId: number, ref: ObjectRef) {
  return useMutation({ mutationFn: (yaml: string) => objectsApi.preview(clusterId, ref, yaml) });
}

export function useApply(clusterId: number, ref: ObjectRef) {
  return useActionMutation(({ yaml, force }: { yaml: string; force: boolean }) => objectsApi.apply(clusterId, ref, yaml, force));
}

export function useScale(clusterId: number, ref: ObjectRef) {
  return useActionMutation((replicas: number) => objectsApi.scale(clusterId, ref, replicas));
}

export type SimpleAction = 'restart' | 'pause' | 'resume';

export function useSimpleAction(clusterId: number, ref: ObjectRef) {
  return useActionMutation((action: SimpleAction) => objectsApi[action](clusterId, ref));
}

export function useRollback(clusterId: number, ref: ObjectRef) {
  return useActionMutation((revision: number) => objectsApi.rollback(clusterId, ref, revision));
}

export function useDelete(clusterId: number, ref: ObjectRef) {
  return useActionMutation(({ confirm, propagation }: { confirm: string; propagation: Propagation }) =>
    objectsApi.remove(clusterId, ref, confirm, propagation),
  );
}

export function usePreviewMany(clusterId: number, namespace: string) {
  return useMutation({ mutationFn: (yaml: string) => objectsApi.previewMany(clusterId, yaml, namespace || undefined) });
}

export function useCreate(clusterId: number, namespace: string) {
  return useActionMutation(({ yaml, force }: { yaml: string; force: boolean }) =>
    objectsApi.create(clusterId, yaml, force, namespace || undefined),
  );
}
