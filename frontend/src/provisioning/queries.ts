/**
 * Query keys and hooks of the provisioning pages. The query cache is the only store:
 *   ['provisioning', 'management']           management clusters
 *   ['provisioning', 'templates', query]     cluster templates
 *   ['provisioning', 'template', id]         one template with files and form
 *   ['provisioning', 'clusters', query]      provisioned clusters (?cluster= for the cluster page's tab)
 *   ['provisioning', 'cluster', id]          one provisioned cluster with its operations
 *   ['provisioning', 'pools', id]            its node pools with their machines
 * live.ts patches them from the socket groups `provisioning` and `provisioning.<id>`.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiError } from '../api/errors';
import { useMe } from '../auth/queries';
import { provisioningApi } from './api';
import type { Accepted, ManagementCluster, ProvisionBody, ProvisionedDetail, TemplateDetail } from './types';

export const provisioningKey = ['provisioning'] as const;
export const managementKey = [...provisioningKey, 'management'] as const;
export const templatesKey = (query?: object) => (query ? ([...provisioningKey, 'templates', query] as const) : ([...provisioningKey, 'templates'] as const));
export const templateKey = (id: number) => [...provisioningKey, 'template', id] as const;
export const clustersKey = (query?: object) => (query ? ([...provisioningKey, 'clusters', query] as const) : ([...provisioningKey, 'clusters'] as const));
export const clusterKey = (id: number) => [...provisioningKey, 'cluster', id] as const;
export const poolsKey = (id: number) => [...provisioningKey, 'pools', id] as const;
export const operationsKey = (id: number) => [...provisioningKey, 'operations', id] as const;

const valid = (id: number | null | undefined): id is number => typeof id === 'number' && Number.isInteger(id) && id > 0;

/** Who sees provisioning (admins, operators, auditors) and who may create/delete (admins) or operate (operators). */
export function useProvisioningAccess() {
  const me = useMe();
  const role = me.data?.role;
  const isAdmin = me.data?.is_admin === true || role === 'admin';
  return {
    loaded: me.data !== undefined,
    sees: isAdmin || role === 'operator' || role === 'auditor',
    isAdmin,
    operates: isAdmin || role === 'operator',
  };
}

export function useManagementClusters(enabled = true) {
  return useQuery({
    queryKey: managementKey,
    queryFn: ({ signal }) => provisioningApi.managementClusters(signal),
    enabled,
    // a check runs in a task and publishes nothing: look again while one is pending
    refetchInterval: (query) => (query.state.data?.some((m) => m.status === 'pending') ? 2000 : false),
  });
}

export function useTemplates(query: { provider?: string; archived?: boolean }, enabled = true) {
  return useQuery({ queryKey: templatesKey(query), queryFn: ({ signal }) => provisioningApi.templates(query, signal), placeholderData: keepPreviousData, enabled });
}

export function useTemplate(id: number | null) {
  return useQuery({ queryKey: templateKey(id ?? 0), queryFn: ({ signal }) => provisioningApi.template(id ?? 0, signal), enabled: valid(id) });
}

export function useProvisionedClusters(query: { phase?: string; management?: number; cluster?: number }, enabled = true) {
  return useQuery({ queryKey: clustersKey(query), queryFn: ({ signal }) => provisioningApi.clusters(query, signal), placeholderData: keepPreviousData, enabled });
}

export function useProvisioned(id: number) {
  return useQuery({ queryKey: clusterKey(id), queryFn: ({ signal }) => provisioningApi.cluster(id, signal), enabled: valid(id) });
}

export function usePools(id: number, enabled = true) {
  return useQuery({ queryKey: poolsKey(id), queryFn: ({ signal }) => provisioningApi.pools(id, signal), enabled: valid(id) && enabled });
}

export function useOperations(id: number) {
  return useQuery({ queryKey: operationsKey(id), queryFn: ({ signal }) => provisioningApi.operations(id, signal), enabled: valid(id) });
}

// --- writes ----------------------------------------------------------------------------

export function useMarkManagement() {
  const queryClient = useQueryClient();
  return useMutation<ManagementCluster, ApiError, { cluster: number; namespace?: string }>({
    mutationFn: (body) => provisioningApi.markManagement(body),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: managementKey }),
  });
}

export function useCheckManagement() {
  const queryClient = useQueryClient();
  return useMutation<ManagementCluster, ApiError, number>({
    mutationFn: (id) => provisioningApi.checkManagement(id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: managementKey }),
  });
}

export function useUnmarkManagement() {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, number>({
    mutationFn: (id) => provisioningApi.unmarkManagement(id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: managementKey }),
  });
}

export function useSaveTemplate() {
  const queryClient = useQueryClient();
  return useMutation<TemplateDetail, ApiError, { from?: number; name: string; provider: string; display_name?: string; description?: string; files: Record<string, string> }>({
    mutationFn: ({ from, ...body }) =>
      from ? provisioningApi.newVersion(from, { files: body.files, description: body.description }) : provisioningApi.createTemplate(body),
    onSuccess: (row) => {
      queryClient.setQueryData(templateKey(row.id), row);
      void queryClient.invalidateQueries({ queryKey: templatesKey() });
    },
  });
}

export function useArchiveTemplate(id: number) {
  const queryClient = useQueryClient();
  return useMutation<TemplateDetail, ApiError, boolean>({
    mutationFn: (archived) => provisioningApi.patchTemplate(id, { archived }),
    onSuccess: (row) => {
      queryClient.setQueryData<TemplateDetail>(templateKey(id), (old) => (old ? { ...old, ...row } : row));
      void queryClient.invalidateQueries({ queryKey: templatesKey() });
    },
  });
}

/** An answer that changed a cluster: its row and operation go into the cache at once. */
function useAccepted(id: number) {
  const queryClient = useQueryClient();
  return (answer: Accepted | undefined) => {
    if (answer?.provisioned) {
      queryClient.setQueryData<ProvisionedDetail>(clusterKey(id), (old) =>
        old ? { ...old, ...answer.provisioned, operations: answer.operation ? [answer.operation, ...old.operations.filter((o) => o.id !== answer.operation.id)] : old.operations } : old,
      );
    }
    void queryClient.invalidateQueries({ queryKey: poolsKey(id) });
    void queryClient.invalidateQueries({ queryKey: operationsKey(id) });
    void queryClient.invalidateQueries({ queryKey: clustersKey() });
  };
}

export function useProvision() {
  const queryClient = useQueryClient();
  return useMutation<Accepted, ApiError, ProvisionBody>({
    mutationFn: (body) => provisioningApi.create(body),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: clustersKey() }),
  });
}

export function useChangePool(id: number) {
  const accepted = useAccepted(id);
  return useMutation<Accepted, ApiError, { pool: string; body: { replicas: number } | { machine_size: string } }>({
    mutationFn: ({ pool, body }) => provisioningApi.changePool(id, pool, body),
    onSuccess: accepted,
  });
}

export function useAddPool(id: number) {
  const accepted = useAccepted(id);
  return useMutation<Accepted, ApiError, { name: string; replicas: number; machine_size: string }>({
    mutationFn: (body) => provisioningApi.addPool(id, body),
    onSuccess: accepted,
  });
}

export function useDeletePool(id: number) {
  const accepted = useAccepted(id);
  return useMutation<Accepted, ApiError, string>({ mutationFn: (pool) => provisioningApi.deletePool(id, pool), onSuccess: accepted });
}

export function useUpgrade(id: number) {
  const accepted = useAccepted(id);
  return useMutation<Accepted, ApiError, string>({ mutationFn: (version) => provisioningApi.upgrade(id, version), onSuccess: accepted });
}

export function useDeleteProvisioned(id: number) {
  const accepted = useAccepted(id);
  return useMutation<Accepted, ApiError, { confirm: string; force?: boolean }>({ mutationFn: (body) => provisioningApi.remove(id, body), onSuccess: accepted });
}
