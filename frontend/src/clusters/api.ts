/**
 * Calls to the clusters API (docs/clusters-api.md), typed by the generated schema. The
 * inventory lists share one shape under different paths, so they go through `request` with the
 * generated page type instead of one openapi-fetch call per path.
 */
import { api, unwrap } from '../api/client';
import { request, type QueryValue } from '../api/request';
import type { ClusterListQuery, SearchQuery } from '../api/types';
import type {
  ClusterPatch,
  ConnectionBody,
  DrainOptions,
  DrainPreview,
  InventoryPage,
  NodeOperation,
  NodeOperationKind,
  PodDetail,
  RegisterBody,
} from './types';

export type Query = Record<string, QueryValue>;

/** The inventory list endpoints under /api/clusters/<id>/. */
export const INVENTORY_RESOURCES = [
  'nodes',
  'namespaces',
  'workloads',
  'pods',
  'services',
  'ingresses',
  'volumes',
  'claims',
  'storageclasses',
  'quotas',
  'hpas',
  'events',
] as const;
export type InventoryResource = (typeof INVENTORY_RESOURCES)[number];

const idPath = (id: number) => ({ path: { id: String(id) } });

export const clustersApi = {
  list: async (query: ClusterListQuery, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/clusters/', { params: { query }, signal })),
  get: async (id: number, signal?: AbortSignal) => unwrap(await api.GET('/api/clusters/{id}/', { params: idPath(id), signal })),
  register: async (body: RegisterBody) => unwrap(await api.POST('/api/clusters/', { body })),
  contexts: async (kubeconfig: string) =>
    unwrap(await api.POST('/api/clusters/kubeconfig-contexts/', { body: { kubeconfig } })),
  patch: async (id: number, body: ClusterPatch) => unwrap(await api.PATCH('/api/clusters/{id}/', { params: idPath(id), body })),
  credentials: async (id: number, body: ConnectionBody) =>
    unwrap(await api.POST('/api/clusters/{id}/credentials/', { params: idPath(id), body })),
  check: async (id: number) => unwrap(await api.POST('/api/clusters/{id}/check/', { params: idPath(id) })),
  remove: async (id: number): Promise<void> => {
    unwrap(await api.DELETE('/api/clusters/{id}/', { params: idPath(id) }));
  },
  inventory: <D>(id: number, resource: InventoryResource, query: Query, signal?: AbortSignal) =>
    request<InventoryPage<D>>('GET', `/api/clusters/${id}/${resource}/`, { query, signal }),
  pod: async (id: number, namespace: string, name: string, signal?: AbortSignal) =>
    // `data` is typed per kind by the console (OpenAPI has it as a free-form object).
    unwrap(
      await api.GET('/api/clusters/{cluster_id}/pods/{namespace}/{name}/', {
        params: { path: { cluster_id: id, namespace, name } },
        signal,
      }),
    ) as unknown as PodDetail,
  nodeOperation: async (id: number, node: string, kind: NodeOperationKind, options?: DrainOptions): Promise<NodeOperation> => {
    const params = { path: { cluster_id: id, name: node } };
    if (kind === 'cordon') return unwrap(await api.POST('/api/clusters/{cluster_id}/nodes/{name}/cordon/', { params }));
    if (kind === 'uncordon') return unwrap(await api.POST('/api/clusters/{cluster_id}/nodes/{name}/uncordon/', { params }));
    const body: DrainOptions = options ?? { force: false, delete_emptydir_data: false };
    return request<NodeOperation>('POST', `/api/clusters/${id}/nodes/${encodeURIComponent(node)}/drain/`, { body });
  },
  drainPreview: (id: number, node: string, signal?: AbortSignal) =>
    request<DrainPreview>('GET', `/api/clusters/${id}/nodes/${encodeURIComponent(node)}/drain-preview/`, { signal }),
  operation: async (id: number, op: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/clusters/{cluster_id}/operations/{id}/', { params: { path: { cluster_id: id, id: String(op) } }, signal })),
  search: async (query: SearchQuery, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/clusters/search/', { params: { query }, signal })),
};
