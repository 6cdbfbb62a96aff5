/**
 * Calls to the workspaces API (docs/workspaces-api.md). They go through `request` (same CSRF,
 * 401 and ApiError handling as `api`) with the documented shapes from ./types.
 */
import { request, type QueryValue } from '../api/request';
import type {
  Allocation,
  AllocationBody,
  GrantInfo,
  Member,
  Page,
  QuotaOverviewRow,
  RegistryAllocation,
  RoleBody,
  ServiceMap,
  ServiceMapBody,
  Workspace,
  WorkspaceBody,
  WorkspaceRole,
  UserRef,
} from './types';

const W = '/api/workspaces';
type Q = Record<string, QueryValue>;

export const workspacesApi = {
  list: (query: Q, signal?: AbortSignal) => request<Page<Workspace>>('GET', `${W}/`, { query: { page_size: 500, ...query }, signal }),
  get: (id: number, signal?: AbortSignal) => request<Workspace>('GET', `${W}/${id}/`, { signal }),
  create: (body: WorkspaceBody) => request<Workspace>('POST', `${W}/`, { body }),
  patch: (id: number, body: WorkspaceBody) => request<Workspace>('PATCH', `${W}/${id}/`, { body }),
  remove: (id: number) => request<void>('DELETE', `${W}/${id}/`),

  members: (id: number, signal?: AbortSignal) =>
    request<Page<Member>>('GET', `${W}/${id}/members/`, { query: { page_size: 500 }, signal }),
  candidates: (id: number, q: string, signal?: AbortSignal) =>
    request<UserRef[]>('GET', `${W}/${id}/members/candidates/`, { query: { q }, signal }),
  addMember: (id: number, body: { user: string; role: string }) => request<Member>('POST', `${W}/${id}/members/`, { body }),
  patchMember: (id: number, mid: number, body: { role: string }) => request<Member>('PATCH', `${W}/${id}/members/${mid}/`, { body }),
  removeMember: (id: number, mid: number) => request<void>('DELETE', `${W}/${id}/members/${mid}/`),

  allocations: (id: number, signal?: AbortSignal) => request<Allocation[]>('GET', `${W}/${id}/allocations/`, { signal }),
  allocate: (id: number, body: AllocationBody) => request<Allocation>('POST', `${W}/${id}/allocations/`, { body }),
  patchAllocation: (id: number, aid: number, body: AllocationBody) =>
    request<Allocation>('PATCH', `${W}/${id}/allocations/${aid}/`, { body }),
  removeAllocation: (id: number, aid: number) => request<void>('DELETE', `${W}/${id}/allocations/${aid}/`),

  registries: (id: number, signal?: AbortSignal) =>
    request<Page<RegistryAllocation> | RegistryAllocation[]>('GET', `${W}/${id}/registries/`, { query: { page_size: 500 }, signal }),
  addRegistry: (id: number, body: { registry: string; description: string }) =>
    request<RegistryAllocation>('POST', `${W}/${id}/registries/`, { body }),
  removeRegistry: (id: number, rid: number) => request<void>('DELETE', `${W}/${id}/registries/${rid}/`),

  allServiceMaps: (query: Q, signal?: AbortSignal) =>
    request<Page<ServiceMap>>('GET', `${W}/servicemaps/`, { query: { page_size: 500, ...query }, signal }),
  serviceMaps: (id: number, signal?: AbortSignal) =>
    request<Page<ServiceMap>>('GET', `${W}/${id}/servicemaps/`, { query: { page_size: 500 }, signal }),
  serviceMap: (id: number, sid: number, signal?: AbortSignal) => request<ServiceMap>('GET', `${W}/${id}/servicemaps/${sid}/`, { signal }),
  createServiceMap: (id: number, body: ServiceMapBody) => request<ServiceMap>('POST', `${W}/${id}/servicemaps/`, { body }),
  patchServiceMap: (id: number, sid: number, body: ServiceMapBody) =>
    request<ServiceMap>('PATCH', `${W}/${id}/servicemaps/${sid}/`, { body }),
  removeServiceMap: (id: number, sid: number) => request<ServiceMap | undefined>('DELETE', `${W}/${id}/servicemaps/${sid}/`),

  quotaOverview: (signal?: AbortSignal) => request<QuotaOverviewRow[]>('GET', `${W}/quota-overview/`, { signal }),

  roles: (signal?: AbortSignal) => request<WorkspaceRole[]>('GET', `${W}/roles/`, { signal }),
  grants: (signal?: AbortSignal) => request<GrantInfo[]>('GET', `${W}/roles/grants/`, { signal }),
  createRole: (body: RoleBody) => request<WorkspaceRole>('POST', `${W}/roles/`, { body }),
  patchRole: (rid: number, body: RoleBody) => request<WorkspaceRole>('PATCH', `${W}/roles/${rid}/`, { body }),
  removeRole: (rid: number) => request<void>('DELETE', `${W}/roles/${rid}/`),
};

/** Lists that the contract marks paginated may come back bare from some endpoints: accept both. */
export function rowsOf<T>(data: Page<T> | T[] | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.results;
}
