/**
 * Query keys and hooks of the registries pages. The query cache is the only store:
 *   ['registries', 'list']                          every visible registry
 *   ['registries', id, 'repositories', search]      repositories (the caller's prefixes only)
 *   ['registries', id, 'tags', repository]          one repository's tags
 *   ['registries', 'scan', registry, repo, digest]  one image's findings
 *   ['registries', 'policy', workspace]             a workspace's scan policy
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryKey } from '@tanstack/react-query';
import type { ApiError } from '../api/errors';
import { registriesApi } from './api';
import type { AllocationBody, DeployImageBody, DeployImageResult, Registry, RegistryBody, ScanExceptionBody, ScanPolicy, ScanPolicyBody } from './types';

export const registriesKey = ['registries'] as const;
export const registryListKey = [...registriesKey, 'list'] as const;
export const repositoriesKey = (id: number, search?: string) =>
  search === undefined ? ([...registriesKey, id, 'repositories'] as const) : ([...registriesKey, id, 'repositories', search] as const);
export const tagsKey = (id: number, repository: string) => [...registriesKey, id, 'tags', repository] as const;
export const scanKey = (registry: number, repository: string, digest: string) => [...registriesKey, 'scan', registry, repository, digest] as const;
export const policyKey = (workspace: number) => [...registriesKey, 'policy', workspace] as const;

const valid = (id: number | null | undefined): id is number => typeof id === 'number' && Number.isInteger(id) && id > 0;

export function useRegistries(refetchInterval: number | false = false) {
  return useQuery({ queryKey: registryListKey, queryFn: ({ signal }) => registriesApi.list(signal), refetchInterval });
}

export function useRegistry(id: number) {
  const list = useRegistries();
  return { ...list, registry: list.data?.find((r) => r.id === id) };
}

export function useRepositories(id: number, search: string) {
  return useQuery({
    queryKey: repositoriesKey(id, search),
    queryFn: ({ signal }) => registriesApi.repositories(id, search, signal),
    enabled: valid(id),
    placeholderData: keepPreviousData,
  });
}

export function useTags(id: number, repository: string) {
  return useQuery({
    queryKey: tagsKey(id, repository),
    queryFn: ({ signal }) => registriesApi.tags(id, repository, signal),
    enabled: valid(id) && repository !== '',
  });
}

export function useScan(registry: number, repository: string, digest: string | null) {
  return useQuery({
    queryKey: scanKey(registry, repository, digest ?? ''),
    queryFn: ({ signal }) => registriesApi.scan(registry, repository, digest ?? '', signal),
    enabled: valid(registry) && !!digest,
  });
}

/** Build definitions of a workspace: which one deploys to a release, with its image path and format. */
export function useDefinitions(workspace: number | null) {
  return useQuery({
    queryKey: [...registriesKey, 'definitions', workspace ?? 0],
    queryFn: ({ signal }) => registriesApi.definitions(workspace ?? 0, signal),
    enabled: valid(workspace),
    staleTime: 60_000,
  });
}

export function usePolicy(workspace: number | null) {
  return useQuery({
    queryKey: policyKey(workspace ?? 0),
    queryFn: ({ signal }) => registriesApi.policy(workspace ?? 0, signal),
    enabled: valid(workspace),
  });
}

// --- writes ------------------------------------------------------------------------------

function useWrite<T, V>(fn: (vars: V) => Promise<T>, invalidate: (vars: V) => QueryKey[]) {
  const queryClient = useQueryClient();
  return useMutation<T, ApiError, V>({
    mutationFn: fn,
    onSuccess: (_data, vars) => {
      for (const queryKey of invalidate(vars)) void queryClient.invalidateQueries({ queryKey });
    },
  });
}

export const useCreateRegistry = () => useWrite<Registry, RegistryBody>((body) => registriesApi.create(body), () => [registryListKey]);
export const usePatchRegistry = () =>
  useWrite<Registry, { id: number; body: RegistryBody }>(({ id, body }) => registriesApi.patch(id, body), () => [registryListKey]);
export const useDeleteRegistry = () => useWrite<void, number>((id) => registriesApi.remove(id), () => [registryListKey]);
export const useCheckRegistry = () => useWrite<Registry, number>((id) => registriesApi.check(id), () => [registryListKey]);
export const useAllocate = () =>
  useWrite<unknown, { id: number; body: AllocationBody }>(({ id, body }) => registriesApi.allocate(id, body), ({ id }) => [registryListKey, repositoriesKey(id)]);
export const useDeallocate = () =>
  useWrite<void, { id: number; allocation: number }>(({ id, allocation }) => registriesApi.deallocate(id, allocation), ({ id }) => [registryListKey, repositoriesKey(id)]);
export const useDeleteTag = () =>
  useWrite<void, { id: number; repository: string; tag: string }>(
    ({ id, repository, tag }) => registriesApi.deleteTag(id, repository, tag),
    ({ id, repository }) => [tagsKey(id, repository), repositoriesKey(id)],
  );
export const useDeployImage = () => useWrite<DeployImageResult, DeployImageBody>((body) => registriesApi.deployImage(body), () => [['catalog']]);

/** Policy writes put the answer in the cache (PUT answers the whole policy). */
export function usePutPolicy(workspace: number) {
  const queryClient = useQueryClient();
  return useMutation<ScanPolicy, ApiError, ScanPolicyBody>({
    mutationFn: (body) => registriesApi.putPolicy(workspace, body),
    onSuccess: (data) => queryClient.setQueryData(policyKey(workspace), data),
  });
}
export const useAddException = (workspace: number) =>
  useWrite<unknown, ScanExceptionBody>((body) => registriesApi.addException(workspace, body), () => [policyKey(workspace)]);
export const useRemoveException = (workspace: number) =>
  useWrite<void, number>((id) => registriesApi.removeException(workspace, id), () => [policyKey(workspace)]);
