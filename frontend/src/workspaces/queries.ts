/**
 * Query keys and hooks of the workspaces pages. The query cache is the only store:
 *   ['workspaces', 'list', query]              workspace list
 *   ['workspaces', 'servicemaps', query]       every visible service map (/servicemaps)
 *   ['workspaces', 'quota-overview'] / ['workspaces', 'roles'] / ['workspaces', 'grants']
 *   ['workspaces', id]                         one workspace
 *   ['workspaces', id, 'members' | 'allocations' | 'registries' | 'servicemaps']
 *   ['workspaces', id, 'servicemap', sid]      one service map
 *   ['workspaces', id, 'candidates', q]        member candidates
 * live.ts patches these from the `workspace.<id>` group.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryKey } from '@tanstack/react-query';
import type { ApiError } from '../api/errors';
import type { QueryValue } from '../api/request';
import { useMe } from '../auth/queries';
import { rowsOf, workspacesApi } from './api';
import type {
  Allocation,
  AllocationBody,
  Member,
  RegistryAllocation,
  RoleBody,
  ServiceMap,
  ServiceMapBody,
  ServiceMapListQuery,
  Workspace,
  WorkspaceBody,
  WorkspaceRole,
} from './types';

export const workspacesKey = ['workspaces'] as const;
export const workspaceListKey = (query: Record<string, QueryValue>) => [...workspacesKey, 'list', query] as const;
export const allServiceMapsKey = (query?: Record<string, QueryValue>) =>
  query === undefined ? ([...workspacesKey, 'servicemaps'] as const) : ([...workspacesKey, 'servicemaps', query] as const);
export const quotaOverviewKey = [...workspacesKey, 'quota-overview'] as const;
export const rolesKey = [...workspacesKey, 'roles'] as const;
export const grantsKey = [...workspacesKey, 'grants'] as const;
export const workspaceKey = (id: number) => [...workspacesKey, id] as const;
export const membersKey = (id: number) => [...workspacesKey, id, 'members'] as const;
export const allocationsKey = (id: number) => [...workspacesKey, id, 'allocations'] as const;
export const registriesKey = (id: number) => [...workspacesKey, id, 'registries'] as const;
export const serviceMapsKey = (id: number) => [...workspacesKey, id, 'servicemaps'] as const;
export const serviceMapKey = (id: number, sid: number) => [...workspacesKey, id, 'servicemap', sid] as const;

// --- reads ---------------------------------------------------------------------------

export function useWorkspaces(query: Record<string, QueryValue> = {}) {
  return useQuery({
    queryKey: workspaceListKey(query),
    queryFn: ({ signal }) => workspacesApi.list(query, signal),
    placeholderData: keepPreviousData,
  });
}

export function useWorkspace(id: number) {
  return useQuery({ queryKey: workspaceKey(id), queryFn: ({ signal }) => workspacesApi.get(id, signal), enabled: Number.isInteger(id) });
}

export function useMembers(id: number, enabled = true) {
  return useQuery({ queryKey: membersKey(id), queryFn: ({ signal }) => workspacesApi.members(id, signal), enabled });
}

export function useCandidates(id: number, q: string, enabled: boolean) {
  return useQuery({
    queryKey: [...workspacesKey, id, 'candidates', q],
    queryFn: ({ signal }) => workspacesApi.candidates(id, q, signal),
    enabled,
    placeholderData: keepPreviousData,
  });
}

export function useAllocations(id: number) {
  return useQuery({ queryKey: allocationsKey(id), queryFn: ({ signal }) => workspacesApi.allocations(id, signal) });
}

export function useRegistries(id: number) {
  return useQuery({
    queryKey: registriesKey(id),
    queryFn: async ({ signal }) => rowsOf<RegistryAllocation>(await workspacesApi.registries(id, signal)),
  });
}

export function useServiceMaps(id: number) {
  return useQuery({ queryKey: serviceMapsKey(id), queryFn: ({ signal }) => workspacesApi.serviceMaps(id, signal) });
}

export function useAllServiceMaps(query: ServiceMapListQuery) {
  return useQuery({
    queryKey: allServiceMapsKey(query),
    queryFn: ({ signal }) => workspacesApi.allServiceMaps(query, signal),
    placeholderData: keepPreviousData,
  });
}

export function useServiceMap(id: number, sid: number) {
  return useQuery({
    queryKey: serviceMapKey(id, sid),
    queryFn: ({ signal }) => workspacesApi.serviceMap(id, sid, signal),
    enabled: Number.isInteger(id) && Number.isInteger(sid),
  });
}

export function useQuotaOverview() {
  return useQuery({ queryKey: quotaOverviewKey, queryFn: ({ signal }) => workspacesApi.quotaOverview(signal) });
}

export function useRoles() {
  return useQuery({ queryKey: rolesKey, queryFn: ({ signal }) => workspacesApi.roles(signal), staleTime: 60_000 });
}

export function useGrants() {
  return useQuery({ queryKey: grantsKey, queryFn: ({ signal }) => workspacesApi.grants(signal), staleTime: 5 * 60_000 });
}

/** What the signed-in user may do in a workspace: `my_grants`, and admin for the admin-only parts. */
export function useWorkspaceAccess(workspace: Workspace | undefined) {
  const me = useMe();
  const isAdmin = me.data?.is_admin === true;
  const grants = new Set(workspace?.my_grants ?? []);
  return {
    isAdmin,
    can: (grant: string) => isAdmin || grants.has(grant),
  };
}

// --- writes ----------------------------------------------------------------------------

/** ['workspaces', id] alone is the workspace row; as a prefix it would refetch everything under it. */
const isWorkspaceRow = (key: QueryKey) => key.length === 2 && typeof key[1] === 'number';

/** A mutation that invalidates some keys when it succeeds. */
function useWrite<T, V>(fn: (vars: V) => Promise<T>, invalidate: (vars: V, data: T) => QueryKey[]) {
  const queryClient = useQueryClient();
  return useMutation<T, ApiError, V>({
    mutationFn: fn,
    onSuccess: (data, vars) => {
      for (const queryKey of invalidate(vars, data)) void queryClient.invalidateQueries({ queryKey, exact: isWorkspaceRow(queryKey) });
    },
  });
}

export const useCreateWorkspace = () =>
  useWrite<Workspace, WorkspaceBody>((body) => workspacesApi.create(body), () => [[...workspacesKey, 'list']]);

export const usePatchWorkspace = (id: number) =>
  useWrite<Workspace, WorkspaceBody>((body) => workspacesApi.patch(id, body), () => [workspaceKey(id), [...workspacesKey, 'list']]);

export function useDeleteWorkspace(id: number) {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, void>({
    mutationFn: () => workspacesApi.remove(id),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: workspaceKey(id) });
      void queryClient.invalidateQueries({ queryKey: [...workspacesKey, 'list'] });
    },
  });
}

const afterMembers = (id: number) => [membersKey(id), workspaceKey(id), [...workspacesKey, id, 'candidates'], [...workspacesKey, 'list']];
export const useAddMember = (id: number) =>
  useWrite<Member, { user: string; role: string }>((body) => workspacesApi.addMember(id, body), () => afterMembers(id));
export const usePatchMember = (id: number) =>
  useWrite<Member, { member: number; role: string }>(({ member, role }) => workspacesApi.patchMember(id, member, { role }), () => afterMembers(id));
export const useRemoveMember = (id: number) =>
  useWrite<void, number>((member) => workspacesApi.removeMember(id, member), () => afterMembers(id));

const afterAllocations = (id: number) => [allocationsKey(id), workspaceKey(id), [...workspacesKey, 'list'], quotaOverviewKey];
export const useAllocate = (id: number) =>
  useWrite<Allocation, AllocationBody>((body) => workspacesApi.allocate(id, body), () => afterAllocations(id));
export const usePatchAllocation = (id: number) =>
  useWrite<Allocation, { allocation: number; body: AllocationBody }>(
    ({ allocation, body }) => workspacesApi.patchAllocation(id, allocation, body),
    () => afterAllocations(id),
  );
export const useRemoveAllocation = (id: number) =>
  useWrite<void, number>((allocation) => workspacesApi.removeAllocation(id, allocation), () => afterAllocations(id));

export const useAddRegistry = (id: number) =>
  useWrite<RegistryAllocation, { registry: string; description: string }>((body) => workspacesApi.addRegistry(id, body), () => [registriesKey(id)]);
export const useRemoveRegistry = (id: number) =>
  useWrite<void, number>((rid) => workspacesApi.removeRegistry(id, rid), () => [registriesKey(id)]);

const afterServiceMaps = (id: number) => [serviceMapsKey(id), allocationsKey(id), workspaceKey(id), allServiceMapsKey(), [...workspacesKey, 'list']];
export const useCreateServiceMap = (id: number) =>
  useWrite<ServiceMap, ServiceMapBody>((body) => workspacesApi.createServiceMap(id, body), () => afterServiceMaps(id));

export function usePatchServiceMap(id: number, sid: number) {
  const queryClient = useQueryClient();
  return useMutation<ServiceMap, ApiError, ServiceMapBody>({
    mutationFn: (body) => workspacesApi.patchServiceMap(id, sid, body),
    onSuccess: (row) => {
      queryClient.setQueryData(serviceMapKey(id, sid), row);
      for (const queryKey of afterServiceMaps(id)) void queryClient.invalidateQueries({ queryKey, exact: isWorkspaceRow(queryKey) });
    },
  });
}

export function useDeleteServiceMap(id: number, sid: number) {
  const queryClient = useQueryClient();
  return useMutation<ServiceMap | undefined, ApiError, void>({
    mutationFn: () => workspacesApi.removeServiceMap(id, sid),
    onSuccess: (row) => {
      // 202: the namespace is being deleted; the row stays until it is gone.
      queryClient.setQueryData<ServiceMap>(serviceMapKey(id, sid), (old) =>
        row && typeof row === 'object' && 'id' in row ? row : old ? { ...old, status: 'deleting' } : old,
      );
      for (const queryKey of afterServiceMaps(id)) void queryClient.invalidateQueries({ queryKey, exact: isWorkspaceRow(queryKey) });
    },
  });
}

export const useCreateRole = () => useWrite<WorkspaceRole, RoleBody>((body) => workspacesApi.createRole(body), () => [rolesKey]);
export const usePatchRole = () =>
  useWrite<WorkspaceRole, { role: number; body: RoleBody }>(({ role, body }) => workspacesApi.patchRole(role, body), () => [rolesKey]);
export const useDeleteRole = () => useWrite<void, number>((role) => workspacesApi.removeRole(role), () => [rolesKey]);
