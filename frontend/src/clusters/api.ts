/**
 * Calls to the clusters API (docs/clusters-api.md). One function per endpoint so the switch to
 * the generated client, when openapi.json has these paths, touches this file only.
 */
import { request, type QueryValue } from '../api/request';
import type {
  Cluster,
  ClusterDetail,
  ClusterPatch,
  ConnectionBody,
  InventoryPage,
  KubeconfigContexts,
  NodeDetail,
  NodeOperation,
  NodeOperationKind,
  Page,
  PodDetail,
  RegisterBody,
  SearchHit,
} from './types';

const BASE = '/api/clusters/';

export type Query = Record<string, QueryValue>;

export const clustersApi = {
  list: (query: Query, signal?: AbortSignal) => request<Page<Cluster>>('GET', BASE, { query, signal }),
  get: (id: number, signal?: AbortSignal) => request<ClusterDetail>('GET', `${BASE}${id}/`, { signal }),
  register: (body: RegisterBody) => request<Cluster>('POST', BASE, { body }),
  contexts: (kubeconfig: string) =>
    request<KubeconfigContexts>('POST', `${BASE}kubeconfig-contexts/`, { body: { kubeconfig } }),
  patch: (id: number, body: ClusterPatch) => request<ClusterDetail>('PATCH', `${BASE}${id}/`, { body }),
  credentials: (id: number, body: ConnectionBody) => request<Cluster>('POST', `${BASE}${id}/credentials/`, { body }),
  check: (id: number) => request<unknown>('POST', `${BASE}${id}/check/`),
  remove: (id: number) => request<void>('DELETE', `${BASE}${id}/`),
  inventory: <D>(id: number, resource: string, query: Query, signal?: AbortSignal) =>
    request<InventoryPage<D>>('GET', `${BASE}${id}/${resource}/`, { query, signal }),
  node: (id: number, name: string, signal?: AbortSignal) =>
    request<NodeDetail>('GET', `${BASE}${id}/nodes/${encodeURIComponent(name)}/`, { signal }),
  pod: (id: number, namespace: string, name: string, signal?: AbortSignal) =>
    request<PodDetail>('GET', `${BASE}${id}/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/`, {
      signal,
    }),
  nodeOperation: (id: number, node: string, kind: NodeOperationKind) =>
    request<NodeOperation>('POST', `${BASE}${id}/nodes/${encodeURIComponent(node)}/${kind}/`),
  operation: (id: number, op: number, signal?: AbortSignal) =>
    request<NodeOperation>('GET', `${BASE}${id}/operations/${op}/`, { signal }),
  search: (query: Query, signal?: AbortSignal) =>
    request<Page<SearchHit> | SearchHit[]>('GET', `${BASE}search/`, { query, signal }),
};
