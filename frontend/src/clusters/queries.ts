/**
 * Query keys and hooks of the clusters pages. The query cache is the only store:
 *   ['clusters', 'list', query]                  cluster table pages
 *   ['clusters', id]                             one cluster (header, syncs)
 *   ['clusters', id, 'inv', resource, params]    an inventory list (infinite, cursor-paged)
 *   ['clusters', id, 'node', name] / ['clusters', id, 'pod', ns, name]
 *   ['clusters', id, 'op', opId]                 a node operation, fed by node_operation.updated
 * live.ts patches these from socket events.
 */
import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type InfiniteData,
} from '@tanstack/react-query';
import { ApiError } from '../api/errors';
import { cursorFromUrl } from '../components/Pager';
import type { ClusterListQuery } from '../api/types';
import { clustersApi, type InventoryResource } from './api';
import type {
  Cluster,
  ClusterDetail,
  ClusterOrdering,
  ClusterPatch,
  ClusterStatus,
  ConnectionBody,
  InventoryPage,
  Kind,
  InventoryRow,
  KindData,
  PodData,
  KubeconfigContexts,
  NodeOperation,
  DrainOptions,
  NodeOperationKind,
  Provider,
  RegisterBody,
  Stage,
} from './types';

export const clustersKey = ['clusters'] as const;
export const clusterListKey = (query: ClusterListQuery) => [...clustersKey, 'list', query] as const;
export const clusterKey = (id: number) => [...clustersKey, id] as const;
export const inventoryKey = (id: number, resource: string, params?: InventoryParams) =>
  params === undefined
    ? ([...clustersKey, id, 'inv', resource] as const)
    : ([...clustersKey, id, 'inv', resource, params] as const);
export const operationKey = (id: number, op: number) => [...clustersKey, id, 'op', op] as const;

// --- cluster list ---------------------------------------------------------------

export interface ClusterFilters {
  q: string;
  status: ClusterStatus | '';
  provider: Provider | '';
  stage: Stage | '';
}
export const EMPTY_CLUSTER_FILTERS: ClusterFilters = { q: '', status: '', provider: '', stage: '' };

export interface ClusterSort {
  field: ClusterOrdering;
  desc: boolean;
}

/** The API's query parameters for the cluster table; empty filters are left out. */
export function clusterListQuery(filters: ClusterFilters, sort: ClusterSort | null, cursor: string | null): ClusterListQuery {
  const query: ClusterListQuery = { page_size: 200 };
  if (filters.q.trim()) query.q = filters.q.trim();
  if (filters.status) query.status = filters.status;
  if (filters.provider) query.provider = filters.provider;
  if (filters.stage) query.stage = filters.stage;
  if (sort) query.ordering = sort.desc ? `-${sort.field}` : sort.field;
  if (cursor) query.cursor = cursor;
  return query;
}

export function useClusters(query: ClusterListQuery, { enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: clusterListKey(query),
    queryFn: ({ signal }) => clustersApi.list(query, signal),
    placeholderData: keepPreviousData,
    enabled,
  });
}

export function useCluster(id: number) {
  return useQuery({ queryKey: clusterKey(id), queryFn: ({ signal }) => clustersApi.get(id, signal) });
}

// --- inventory -----------------------------------------------------------------

/** Which list endpoint holds a kind (all workload kinds share /workloads/). */
export const RESOURCE_OF_KIND: Record<Kind, InventoryResource> = {
  Node: 'nodes',
  Namespace: 'namespaces',
  Pod: 'pods',
  Deployment: 'workloads',
  StatefulSet: 'workloads',
  DaemonSet: 'workloads',
  ReplicaSet: 'workloads',
  Job: 'workloads',
  CronJob: 'workloads',
  Service: 'services',
  Ingress: 'ingresses',
  PersistentVolume: 'volumes',
  PersistentVolumeClaim: 'claims',
  StorageClass: 'storageclasses',
  Event: 'events',
};

export function resourceOfKind(kind: string): InventoryResource | null {
  return kind in RESOURCE_OF_KIND ? RESOURCE_OF_KIND[kind as Kind] : null;
}

/** Filters of an inventory list; only non-empty values are sent. */
export type InventoryParams = Record<string, string>;

export type InventoryData<D = unknown> = InfiniteData<InventoryPage<D>, string | null>;

export function cleanParams(params: InventoryParams): InventoryParams {
  const out: InventoryParams = {};
  for (const [key, value] of Object.entries(params)) if (value.trim()) out[key] = value.trim();
  return out;
}

export function useInventory<K extends Kind>(
  id: number,
  resource: InventoryResource,
  params: InventoryParams,
  { pageSize = 200, enabled = true }: { pageSize?: number; enabled?: boolean } = {},
) {
  const clean = cleanParams(params);
  return useInfiniteQuery({
    queryKey: inventoryKey(id, resource, clean),
    queryFn: ({ pageParam, signal }) =>
      clustersApi.inventory<KindData[K]>(id, resource, { ...clean, page_size: pageSize, cursor: pageParam }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => cursorFromUrl(last.next),
    enabled,
  });
}

export function usePodDetail(id: number, namespace: string, name: string) {
  return useQuery({
    queryKey: [...clustersKey, id, 'pod', namespace, name],
    queryFn: ({ signal }) => clustersApi.pod(id, namespace, name, signal),
    staleTime: 5_000,
    // 502/504: the cluster did not answer within the server's own timeout; retrying at once
    // only delays the fallback to the last known row (the Retry button is there).
    retry: (count, error) => !(error instanceof ApiError && error.status >= 400) && count < 2,
  });
}

/** A pod's row from any cached pod list of the cluster (the fallback when the cluster is down). */
export function useCachedPod(id: number, namespace: string, name: string): InventoryRow<PodData> | null {
  const queryClient = useQueryClient();
  for (const [, data] of queryClient.getQueriesData<InventoryData<PodData>>({ queryKey: inventoryKey(id, 'pods') })) {
    for (const page of data?.pages ?? []) {
      const row = page.results.find((r) => r.namespace === namespace && r.name === name);
      if (row) return row;
    }
  }
  return null;
}

// --- writes ------------------------------------------------------------------------

export function useKubeconfigContexts() {
  return useMutation<KubeconfigContexts, ApiError, string>({ mutationFn: (kubeconfig) => clustersApi.contexts(kubeconfig) });
}

export function useRegisterCluster() {
  const queryClient = useQueryClient();
  return useMutation<Cluster, ApiError, RegisterBody>({
    mutationFn: (body) => clustersApi.register(body),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: [...clustersKey, 'list'] }),
  });
}

export function usePatchCluster(id: number) {
  const queryClient = useQueryClient();
  return useMutation<Cluster, ApiError, ClusterPatch>({
    mutationFn: (body) => clustersApi.patch(id, body),
    onSuccess: (cluster) => {
      queryClient.setQueryData<ClusterDetail>(clusterKey(id), (old) => (old ? { ...old, ...cluster } : old));
      void queryClient.invalidateQueries({ queryKey: [...clustersKey, 'list'] });
    },
  });
}

export function useReplaceCredentials(id: number) {
  const queryClient = useQueryClient();
  return useMutation<Cluster, ApiError, ConnectionBody>({
    mutationFn: (body) => clustersApi.credentials(id, body),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: clusterKey(id), exact: true }),
  });
}

export function useCheckCluster(id: number) {
  const queryClient = useQueryClient();
  return useMutation<unknown, ApiError, void>({
    mutationFn: () => clustersApi.check(id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: clusterKey(id), exact: true }),
  });
}

export function useDeleteCluster(id: number) {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, void>({
    mutationFn: () => clustersApi.remove(id),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: clusterKey(id) });
      void queryClient.invalidateQueries({ queryKey: [...clustersKey, 'list'] });
    },
  });
}

export function useNodeOperation(id: number) {
  const queryClient = useQueryClient();
  return useMutation<NodeOperation, ApiError, { node: string; kind: NodeOperationKind; options?: DrainOptions }>({
    mutationFn: ({ node, kind, options }) => clustersApi.nodeOperation(id, node, kind, options),
    onSuccess: (op) => queryClient.setQueryData(operationKey(id, op.id), op),
  });
}

/** What a drain would do to each pod of the node, read live when the drain dialog opens. */
export function useDrainPreview(id: number, node: string | null) {
  return useQuery({
    queryKey: ['clusters', id, 'drain-preview', node],
    queryFn: ({ signal }) => clustersApi.drainPreview(id, node ?? '', signal),
    enabled: node !== null,
    staleTime: 0,
    gcTime: 0,
  });
}

/** A node operation: the POST's answer, then node_operation.updated events, polled as a fallback. */
export function useOperation(id: number, op: number | null) {
  return useQuery({
    queryKey: operationKey(id, op ?? -1),
    queryFn: ({ signal }) => clustersApi.operation(id, op ?? -1, signal),
    enabled: op !== null,
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status === 'succeeded' || status === 'failed' ? false : 5_000;
    },
  });
}
