/** Query keys and hooks of the service map's config pages. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useParams } from 'react-router-dom';
import type { ApiError } from '../api/errors';
import { useWorkspace, useWorkspaceAccess } from '../workspaces/queries';
import { configApi } from './api';
import type { AutoscalerBody, AutoscalerRow, ConfigKind, ConfigSaved } from './types';

export const configsKey = (smId: number) => ['config', smId] as const;
export const configKey = (smId: number, kind: string, name: string) => ['config', smId, kind, name] as const;

/** Cluster answers (502/504) are not retried at once: the user sees them and has a Retry button. */
const noRetry = { retry: false } as const;

export function useConfigs(smId: number) {
  return useQuery({ queryKey: configsKey(smId), queryFn: ({ signal }) => configApi.list(smId, signal), ...noRetry });
}

export function useConfig(smId: number, kind: string, name: string, reveal: boolean) {
  return useQuery({
    queryKey: [...configKey(smId, kind, name), 'detail', reveal],
    queryFn: ({ signal }) => configApi.get(smId, kind, name, reveal, signal),
    staleTime: reveal ? 0 : undefined,
    gcTime: reveal ? 0 : undefined, // revealed secret values are not kept around
    ...noRetry,
  });
}

export function useConfigVersions(smId: number, kind: string, name: string) {
  return useQuery({
    queryKey: [...configKey(smId, kind, name), 'versions'],
    queryFn: ({ signal }) => configApi.versions(smId, kind, name, signal),
    ...noRetry,
  });
}

function useConfigWrite<T, V>(smId: number, fn: (vars: V) => Promise<T>) {
  const queryClient = useQueryClient();
  return useMutation<T, ApiError, V>({
    mutationFn: fn,
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: configsKey(smId) }),
  });
}

export const useCreateConfig = (smId: number) =>
  useConfigWrite(smId, (body: { kind: ConfigKind; name: string; data: Record<string, string> }) => configApi.create(smId, body));
export const useUpdateConfig = (smId: number, kind: string, name: string) =>
  useConfigWrite<ConfigSaved, { data: Record<string, string | null>; restart: boolean; message?: string }>(smId, (body) =>
    configApi.update(smId, kind, name, body),
  );
export const useRestoreConfig = (smId: number, kind: string, name: string) =>
  useConfigWrite<ConfigSaved, { version: number; restart: boolean }>(smId, (body) => configApi.restore(smId, kind, name, body));
export const useDeleteConfig = (smId: number, kind: string, name: string) => useConfigWrite(smId, () => configApi.remove(smId, kind, name));

export function useSetAutoscaler(smId: number) {
  return useMutation<AutoscalerRow, ApiError, { kind: string; name: string; body: AutoscalerBody }>({
    mutationFn: ({ kind, name, body }) => configApi.putAutoscaler(smId, kind, name, body),
  });
}
export function useRemoveAutoscaler(smId: number) {
  return useMutation<void, ApiError, { kind: string; name: string }>({ mutationFn: ({ kind, name }) => configApi.removeAutoscaler(smId, kind, name) });
}
export function useSavePackage(smId: number) {
  const queryClient = useQueryClient();
  return useMutation<Awaited<ReturnType<typeof configApi.savePackage>>, ApiError, { name: string; version: string; description: string }>({
    mutationFn: (body) => configApi.savePackage(smId, body),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ['catalog'] }),
  });
}

/** The grants of the signed-in user in the workspace of the page (`/workspaces/:id/...`). */
export function usePageAccess(workspaceId?: number) {
  const params = useParams();
  const id = workspaceId ?? Number(params.id);
  const workspace = useWorkspace(id);
  return useWorkspaceAccess(workspace.data);
}
