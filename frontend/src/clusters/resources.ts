/**
 * The generic resource browser's API calls, types and queries (docs/clusters-api.md, "Resource
 * browser"). Query keys:
 *   ['clusters', id, 'resources']                              the kinds the cluster serves
 *   ['clusters', id, 'resources', gvr, params]                 one page of a kind
 *   ['clusters', id, 'resources', gvr, 'object', ns, name]     one object
 * The endpoints are hand-typed through `request` until openapi.json is regenerated.
 */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { request, type QueryValue } from '../api/request';

export type ResourceSource = 'read_model' | 'live';

export interface ApiResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  short_names: string[];
  categories: string[];
  source: ResourceSource;
}

export interface DiscoveryError {
  status: number;
  code: string;
  detail: string;
}

export interface ResourceKinds {
  resources: ApiResource[];
  discovery_error: DiscoveryError | null;
}

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  priority: number;
  description: string;
}

export interface TableRow {
  name: string;
  namespace: string;
  cells: unknown[];
  labels: Record<string, string>;
}

export interface ResourcePage {
  source: ResourceSource;
  resource: ApiResource;
  columns: TableColumn[];
  rows: TableRow[];
  continue: string;
  remaining: number | null;
  /** Read-model pages: how fresh the watcher's copy is; null for live pages. */
  freshness: { state: string; last_event: string | null } | null;
}

export interface ResourceObject {
  source: 'live';
  resource: ApiResource;
  object: Record<string, unknown>;
  secret_keys: string[] | null;
}

export interface PageParams {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

/** `group/version/plural` as the browser's URLs write it (`core` for the core group). */
export function gvrOf(r: Pick<ApiResource, 'group' | 'version' | 'plural'>): string {
  return `${r.group || 'core'}/${r.version}/${r.plural}`;
}

const base = (clusterId: number) => `/api/clusters/${clusterId}/resources`;

export const resourcesApi = {
  kinds: (clusterId: number, signal?: AbortSignal) => request<ResourceKinds>('GET', `${base(clusterId)}/`, { signal }),
  page: (clusterId: number, gvr: string, params: PageParams, signal?: AbortSignal) =>
    request<ResourcePage>('GET', `${base(clusterId)}/${gvr}/`, { query: params as Record<string, QueryValue>, signal }),
  object: (clusterId: number, gvr: string, namespace: string, name: string, signal?: AbortSignal) =>
    request<ResourceObject>('GET', `${base(clusterId)}/${gvr}/${encodeURIComponent(name)}/`, {
      query: { namespace },
      signal,
    }),
};

export function useResourceKinds(clusterId: number) {
  return useQuery({
    queryKey: ['clusters', clusterId, 'resources'],
    queryFn: ({ signal }) => resourcesApi.kinds(clusterId, signal),
    staleTime: 60_000,
  });
}

export function useResourcePage(clusterId: number, gvr: string | null, params: PageParams) {
  return useQuery({
    queryKey: ['clusters', clusterId, 'resources', gvr, params],
    queryFn: ({ signal }) => resourcesApi.page(clusterId, gvr ?? '', params, signal),
    enabled: gvr !== null,
    placeholderData: keepPreviousData,
    retry: false, // a live read has its own time budget; the person decides to retry
  });
}

export function useResourceObject(clusterId: number, gvr: string | null, namespace: string, name: string | null) {
  return useQuery({
    queryKey: ['clusters', clusterId, 'resources', gvr, 'object', namespace, name],
    queryFn: ({ signal }) => resourcesApi.object(clusterId, gvr ?? '', namespace, name ?? '', signal),
    enabled: gvr !== null && name !== null,
    retry: false,
  });
}

/** Kinds grouped by API group (core first), each group's kinds by name; `search` matches kind,
 * plural, short names or group. */
export function groupKinds(resources: ApiResource[], search: string): [string, ApiResource[]][] {
  const q = search.trim().toLowerCase();
  const hit = (r: ApiResource) =>
    !q ||
    r.kind.toLowerCase().includes(q) ||
    r.plural.includes(q) ||
    r.group.includes(q) ||
    r.short_names.some((s) => s === q);
  const groups = new Map<string, ApiResource[]>();
  for (const r of resources.filter(hit)) {
    const list = groups.get(r.group) ?? [];
    list.push(r);
    groups.set(r.group, list);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)))
    .map(([g, list]) => [g, list.sort((x, y) => x.kind.localeCompare(y.kind))]);
}
