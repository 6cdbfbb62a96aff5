/**
 * Calls to /api/provisioning/ (CONTRACT "New portal API") through `request` (CSRF, 401 handling,
 * `ApiError` with the body's code, params and field errors), typed by types.ts.
 */
import { request } from '../api/request';
import type {
  Accepted,
  ListOf,
  ManagementCluster,
  Operation,
  Plan,
  Pool,
  ProvisionBody,
  ProvisionedDetail,
  ProvisionedRow,
  TemplateDetail,
  TemplateRow,
} from './types';

const BASE = '/api/provisioning';
const seg = encodeURIComponent;

/** The rows of a list answer, paginated or not. */
export function rowsOf<T>(data: ListOf<T> | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.results;
}

export const provisioningApi = {
  managementClusters: (signal?: AbortSignal) =>
    request<ListOf<ManagementCluster>>('GET', `${BASE}/management-clusters/`, { query: { page_size: 200 }, signal }).then(rowsOf),
  markManagement: (body: { cluster: number; namespace?: string }) => request<ManagementCluster>('POST', `${BASE}/management-clusters/`, { body }),
  checkManagement: (id: number) => request<ManagementCluster>('POST', `${BASE}/management-clusters/${id}/check/`),
  unmarkManagement: (id: number) => request<void>('DELETE', `${BASE}/management-clusters/${id}/`),

  templates: (query: { provider?: string; archived?: boolean }, signal?: AbortSignal) =>
    request<ListOf<TemplateRow>>('GET', `${BASE}/templates/`, { query: { page_size: 500, ...query }, signal }).then(rowsOf),
  template: (id: number, signal?: AbortSignal) => request<TemplateDetail>('GET', `${BASE}/templates/${id}/`, { signal }),
  createTemplate: (body: { name: string; provider: string; display_name?: string; description?: string; files: Record<string, string> }) =>
    request<TemplateDetail>('POST', `${BASE}/templates/`, { body }),
  newVersion: (id: number, body: { files: Record<string, string>; description?: string }) =>
    request<TemplateDetail>('POST', `${BASE}/templates/${id}/versions/`, { body }),
  patchTemplate: (id: number, body: { display_name?: string; description?: string; archived?: boolean }) =>
    request<TemplateDetail>('PATCH', `${BASE}/templates/${id}/`, { body }),
  renderTemplate: (id: number, body: { name: string; parameters: Record<string, unknown> }) =>
    request<{ objects: Plan['objects']; manifest: string }>('POST', `${BASE}/templates/${id}/render/`, { body }),

  clusters: (query: { phase?: string; management?: number; cluster?: number }, signal?: AbortSignal) =>
    request<ListOf<ProvisionedRow>>('GET', `${BASE}/clusters/`, { query: { page_size: 200, ...query }, signal }).then(rowsOf),
  plan: (body: ProvisionBody) => request<Plan>('POST', `${BASE}/clusters/plan/`, { body }),
  create: (body: ProvisionBody) => request<Accepted>('POST', `${BASE}/clusters/`, { body }),
  cluster: (id: number, signal?: AbortSignal) => request<ProvisionedDetail>('GET', `${BASE}/clusters/${id}/`, { signal }),
  remove: (id: number, body: { confirm: string; force?: boolean }) => request<Accepted>('DELETE', `${BASE}/clusters/${id}/`, { body }),
  upgrade: (id: number, version: string) => request<Accepted>('POST', `${BASE}/clusters/${id}/upgrade/`, { body: { version } }),
  operations: (id: number, signal?: AbortSignal) =>
    request<ListOf<Operation>>('GET', `${BASE}/clusters/${id}/operations/`, { query: { page_size: 50 }, signal }).then(rowsOf),

  pools: (id: number, signal?: AbortSignal) => request<ListOf<Pool>>('GET', `${BASE}/clusters/${id}/pools/`, { signal }).then(rowsOf),
  addPool: (id: number, body: { name: string; replicas: number; machine_size: string }) =>
    request<Accepted>('POST', `${BASE}/clusters/${id}/pools/`, { body }),
  changePool: (id: number, pool: string, body: { replicas: number } | { machine_size: string }) =>
    request<Accepted>('PATCH', `${BASE}/clusters/${id}/pools/${seg(pool)}/`, { body }),
  deletePool: (id: number, pool: string) => request<Accepted>('DELETE', `${BASE}/clusters/${id}/pools/${seg(pool)}/`),
};
