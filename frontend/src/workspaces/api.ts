/**
 * Calls to the workspaces API (docs/workspaces-api.md), typed by the generated schema. Nested
 * routes take `workspace_id` (a number) and `id` (a string, as drf-spectacular names them).
 */
import { api, unwrap } from '../api/client';
import type {
  AllocationBody,
  Page,
  RoleBody,
  ServiceMapBody,
  ServiceMapListQuery,
  WorkspaceBody,
  WorkspaceListQuery,
} from './types';

const ws = (workspaceId: number) => ({ path: { workspace_id: workspaceId } });
const item = (workspaceId: number, id: number) => ({ path: { workspace_id: workspaceId, id: String(id) } });

export const workspacesApi = {
  list: async (query: WorkspaceListQuery, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/workspaces/', { params: { query: { page_size: 500, ...query } }, signal })),
  get: async (id: number, signal?: AbortSignal) => unwrap(await api.GET('/api/workspaces/{id}/', { params: { path: { id: String(id) } }, signal })),
  create: async ({ name = '', display_name = '', description = '' }: WorkspaceBody & { name?: string }) =>
    unwrap(await api.POST('/api/workspaces/', { body: { name, display_name, description } })),
  patch: async (id: number, body: WorkspaceBody) =>
    unwrap(await api.PATCH('/api/workspaces/{id}/', { params: { path: { id: String(id) } }, body })),
  remove: async (id: number): Promise<void> => {
    unwrap(await api.DELETE('/api/workspaces/{id}/', { params: { path: { id: String(id) } } }));
  },

  members: async (id: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/workspaces/{workspace_id}/members/', { params: { ...ws(id), query: { page_size: 500 } }, signal })),
  candidates: async (id: number, q: string, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/workspaces/{workspace_id}/members/candidates/', { params: { ...ws(id), query: q ? { q } : {} }, signal })),
  addMember: async (id: number, body: { user: string; role: string }) =>
    unwrap(await api.POST('/api/workspaces/{workspace_id}/members/', { params: ws(id), body })),
  patchMember: async (id: number, mid: number, body: { role: string }) =>
    unwrap(await api.PATCH('/api/workspaces/{workspace_id}/members/{id}/', { params: item(id, mid), body })),
  removeMember: async (id: number, mid: number): Promise<void> => {
    unwrap(await api.DELETE('/api/workspaces/{workspace_id}/members/{id}/', { params: item(id, mid) }));
  },

  allocations: async (id: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/workspaces/{workspace_id}/allocations/', { params: ws(id), signal })),
  allocate: async (id: number, { cluster, quota, storage_classes }: AllocationBody) =>
    unwrap(await api.POST('/api/workspaces/{workspace_id}/allocations/', { params: ws(id), body: { cluster: cluster ?? -1, quota, storage_classes } })),
  patchAllocation: async (id: number, aid: number, { quota, storage_classes, force = false }: AllocationBody) =>
    unwrap(await api.PATCH('/api/workspaces/{workspace_id}/allocations/{id}/', { params: item(id, aid), body: { quota, storage_classes, force } })),
  removeAllocation: async (id: number, aid: number): Promise<void> => {
    unwrap(await api.DELETE('/api/workspaces/{workspace_id}/allocations/{id}/', { params: item(id, aid) }));
  },

  registries: async (id: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/workspaces/{workspace_id}/registries/', { params: ws(id), signal })),
  addRegistry: async (id: number, body: { registry: string; description: string }) =>
    unwrap(await api.POST('/api/workspaces/{workspace_id}/registries/', { params: ws(id), body })),
  removeRegistry: async (id: number, rid: number): Promise<void> => {
    unwrap(await api.DELETE('/api/workspaces/{workspace_id}/registries/{id}/', { params: item(id, rid) }));
  },

  allServiceMaps: async (query: ServiceMapListQuery, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/workspaces/servicemaps/', { params: { query: { page_size: 500, ...query } }, signal })),
  serviceMaps: async (id: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/workspaces/{workspace_id}/servicemaps/', { params: { ...ws(id), query: { page_size: 500 } }, signal })),
  serviceMap: async (id: number, sid: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/workspaces/{workspace_id}/servicemaps/{id}/', { params: item(id, sid), signal })),
  createServiceMap: async (id: number, { cluster, namespace, display_name = '', description = '', quota, limits }: ServiceMapBody) =>
    unwrap(
      await api.POST('/api/workspaces/{workspace_id}/servicemaps/', {
        params: ws(id),
        body: { cluster: cluster ?? -1, namespace: namespace ?? '', display_name, description, quota, limits },
      }),
    ),
  patchServiceMap: async (id: number, sid: number, { cluster: _c, namespace: _n, force = false, ...rest }: ServiceMapBody) =>
    unwrap(await api.PATCH('/api/workspaces/{workspace_id}/servicemaps/{id}/', { params: item(id, sid), body: { ...rest, force } })),
  removeServiceMap: async (id: number, sid: number) =>
    unwrap(await api.DELETE('/api/workspaces/{workspace_id}/servicemaps/{id}/', { params: item(id, sid) })),

  quotaOverview: async (signal?: AbortSignal) => unwrap(await api.GET('/api/workspaces/quota-overview/', { signal })),

  roles: async (signal?: AbortSignal) => unwrap(await api.GET('/api/workspaces/roles/', { signal })),
  grants: async (signal?: AbortSignal) => unwrap(await api.GET('/api/workspaces/roles/grants/', { signal })),
  createRole: async ({ key = '', name = '', ...rest }: RoleBody) => unwrap(await api.POST('/api/workspaces/roles/', { body: { key, name, ...rest } })),
  patchRole: async (rid: number, body: RoleBody) =>
    unwrap(await api.PATCH('/api/workspaces/roles/{id}/', { params: { path: { id: String(rid) } }, body })),
  removeRole: async (rid: number): Promise<void> => {
    unwrap(await api.DELETE('/api/workspaces/roles/{id}/', { params: { path: { id: String(rid) } } }));
  },
};

/** Lists that may come back paginated or bare (registries are a bare list): rows either way. */
export function rowsOf<T>(data: Page<T> | T[] | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.results;
}
