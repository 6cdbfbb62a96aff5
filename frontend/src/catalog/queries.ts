/**
 * Query keys and hooks of the catalog and deploy pages. The query cache is the only store:
 *   ['catalog', 'sources', query]                  sources
 *   ['catalog', 'packages', query]                 package cards
 *   ['catalog', 'package', id] / ['catalog', 'version', id]
 *   ['catalog', 'releases', query]                 release lists (global, per service map)
 *   ['catalog', 'release', id]                     one release with its revisions
 *   ['catalog', 'release', id, 'revision', n]      one revision with its manifest
 *   ['catalog', 'release', id, 'diff', from, to] / ['catalog', 'release', id, 'drift']
 *   ['catalog', 'rollout', id]                     one rollout with its ledger
 * live.ts patches releases, revisions and rollouts from the `workspace.<id>` group.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryKey } from '@tanstack/react-query';
import type { ApiError } from '../api/errors';
import { catalogApi } from './api';
import type { PackageQuery, Release, ReleaseDetail, ReleaseQuery, Rollout, SourceQuery, Values, Version } from './types';

export const catalogKey = ['catalog'] as const;
export const sourcesKey = (query?: object) => (query ? ([...catalogKey, 'sources', query] as const) : ([...catalogKey, 'sources'] as const));
export const packagesKey = (query?: object) => (query ? ([...catalogKey, 'packages', query] as const) : ([...catalogKey, 'packages'] as const));
export const packageKey = (id: number) => [...catalogKey, 'package', id] as const;
export const versionKey = (id: number) => [...catalogKey, 'version', id] as const;
export const releasesKey = (query?: object) => (query ? ([...catalogKey, 'releases', query] as const) : ([...catalogKey, 'releases'] as const));
export const releaseKey = (id: number) => [...catalogKey, 'release', id] as const;
export const revisionKey = (id: number, n: number) => [...catalogKey, 'release', id, 'revision', n] as const;
export const rolloutKey = (id: number) => [...catalogKey, 'rollout', id] as const;
export const rolloutsKey = [...catalogKey, 'rollouts'] as const;

const valid = (id: number | null | undefined): id is number => typeof id === 'number' && Number.isInteger(id) && id > 0;

// --- reads ---------------------------------------------------------------------------

export function useSources(query: SourceQuery = {}) {
  return useQuery({ queryKey: sourcesKey(query), queryFn: ({ signal }) => catalogApi.sources(query, signal), placeholderData: keepPreviousData });
}

export function usePackages(query: PackageQuery) {
  return useQuery({ queryKey: packagesKey(query), queryFn: ({ signal }) => catalogApi.packages(query, signal), placeholderData: keepPreviousData });
}

export function usePackage(id: number) {
  return useQuery({ queryKey: packageKey(id), queryFn: ({ signal }) => catalogApi.pkg(id, signal), enabled: valid(id) });
}

export function useVersion(id: number | null) {
  return useQuery({
    queryKey: versionKey(id ?? 0),
    queryFn: ({ signal }) => catalogApi.version(id ?? 0, signal),
    enabled: valid(id),
    // a version's chart never changes once stored; until then a task is fetching it: look again
    staleTime: (query) => (query.state.data?.archive_status === 'fetching' ? 0 : 5 * 60_000),
    refetchInterval: (query) => (query.state.data?.archive_status === 'fetching' ? 1000 : false),
  });
}

export function useReleases(query: ReleaseQuery, enabled = true) {
  return useQuery({ queryKey: releasesKey(query), queryFn: ({ signal }) => catalogApi.releases(query, signal), placeholderData: keepPreviousData, enabled });
}

export function useRelease(id: number) {
  return useQuery({ queryKey: releaseKey(id), queryFn: ({ signal }) => catalogApi.release(id, signal), enabled: valid(id) });
}

export function useRevision(id: number, n: number | null) {
  return useQuery({ queryKey: revisionKey(id, n ?? 0), queryFn: ({ signal }) => catalogApi.revision(id, n ?? 0, signal), enabled: valid(id) && valid(n) });
}

export function useDiff(id: number, from: number | null, to: number | null) {
  return useQuery({
    queryKey: [...releaseKey(id), 'diff', from, to],
    queryFn: ({ signal }) => catalogApi.diff(id, from ?? 0, to ?? 0, signal),
    enabled: valid(from) && valid(to) && from !== to,
  });
}

export function useDrift(id: number, enabled: boolean) {
  // each fetch asks the server for a new drift check (a cluster intent): on request, not on focus
  return useQuery({
    queryKey: [...releaseKey(id), 'drift'],
    queryFn: ({ signal }) => catalogApi.drift(id, signal),
    enabled: enabled && valid(id),
    staleTime: 0,
    refetchOnWindowFocus: false,
  });
}

export function useRollout(id: number) {
  return useQuery({ queryKey: rolloutKey(id), queryFn: ({ signal }) => catalogApi.rollout(id, signal), enabled: valid(id) });
}

// --- writes ----------------------------------------------------------------------------

function useWrite<T, V>(fn: (vars: V) => Promise<T>, invalidate: (vars: V, data: T) => QueryKey[]) {
  const queryClient = useQueryClient();
  return useMutation<T, ApiError, V>({
    mutationFn: fn,
    onSuccess: (data, vars) => {
      for (const queryKey of invalidate(vars, data)) void queryClient.invalidateQueries({ queryKey });
    },
  });
}

const afterSources = () => [sourcesKey(), packagesKey()];
export const useCreateSource = () => useWrite((body: Parameters<typeof catalogApi.createSource>[0]) => catalogApi.createSource(body), afterSources);
export const useRefreshSource = () => useWrite((id: number) => catalogApi.refreshSource(id), afterSources);
export const useDeleteSource = () => useWrite((id: number) => catalogApi.removeSource(id), afterSources);
export const useWebhookToken = () => useWrite((id: number) => catalogApi.webhookToken(id), () => []);
export const useUploadChart = () =>
  useWrite<Version, { source: number; file: File }>(({ source, file }) => catalogApi.uploadChart(source, file), afterSources);

export const useRender = (versionId: number) =>
  useMutation<Awaited<ReturnType<typeof catalogApi.render>>, ApiError, { values: Values; service_map: number }>({
    mutationFn: (body) => catalogApi.render(versionId, body),
  });

/** After a release write: the answer is the fresh row; the detail (revisions) and lists refetch. */
function useReleaseWrite<V>(id: number, fn: (vars: V) => Promise<Release>) {
  const queryClient = useQueryClient();
  return useMutation<Release, ApiError, V>({
    mutationFn: fn,
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: releaseKey(id) });
      void queryClient.invalidateQueries({ queryKey: releasesKey() });
    },
  });
}

export const useUpgrade = (id: number) =>
  useReleaseWrite(id, (body: { package_version?: number; values?: Values; strategy?: object }) => catalogApi.upgrade(id, body));
export const useRollback = (id: number) => useReleaseWrite(id, (revision: number) => catalogApi.rollback(id, revision));
/** Set by the `release.deleted` event (catalog/live.ts): the page leaves for the list. */
export const releaseDeletedKey = (id: number) => [...catalogKey, 'release-deleted', id] as const;
export const useReleaseDeleted = (id: number) =>
  useQuery<boolean>({ queryKey: releaseDeletedKey(id), queryFn: () => Promise.resolve(false), enabled: false }).data === true;

/** Delete: the answer (status `deleting`) patches the detail in place; the detail is not
 * refetched, since the release may be gone already (the page follows `release.deleted`). */
export function useDeleteRelease(id: number) {
  const queryClient = useQueryClient();
  return useMutation<Release, ApiError, void>({
    mutationFn: () => catalogApi.removeRelease(id),
    onSuccess: (row) => {
      queryClient.setQueryData<ReleaseDetail>(releaseKey(id), (old) => (old ? { ...old, ...row, revisions: old.revisions } : old));
      void queryClient.invalidateQueries({ queryKey: releasesKey() });
    },
  });
}

export const useCreateRelease = () =>
  useWrite((body: Parameters<typeof catalogApi.createRelease>[0]) => catalogApi.createRelease(body), () => [releasesKey()]);
export const useCreateRollout = () =>
  useWrite((body: Parameters<typeof catalogApi.createRollout>[0]) => catalogApi.createRollout(body), () => [releasesKey(), rolloutsKey]);

/** Delete a finished rollout's record (its releases stay); 409 while it runs. */
export function useDeleteRollout(id: number) {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, void>({
    mutationFn: () => catalogApi.deleteRollout(id),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: rolloutKey(id) });
      void queryClient.invalidateQueries({ queryKey: rolloutsKey });
    },
  });
}

export function useCancelRollout(id: number) {
  const queryClient = useQueryClient();
  return useMutation<Rollout, ApiError, void>({
    mutationFn: () => catalogApi.cancelRollout(id),
    onSuccess: (row) => queryClient.setQueryData(rolloutKey(id), row),
  });
}
