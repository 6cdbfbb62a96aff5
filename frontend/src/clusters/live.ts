/**
 * Live updates of the clusters pages: socket events patch the query cache (never component
 * state). `fleet` feeds the cluster table; `cluster.<id>` feeds one cluster's header and its
 * inventory lists. Rows that carry full objects are applied in place; digests (events without
 * rows, or "truncated") and seq gaps invalidate the affected lists so they refetch.
 */
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef } from 'react';
import { useSubscription, type SocketEvent } from '../lib/socket';
import type { InventoryResource } from './api';
import type { Cluster, ClusterDetail, InventoryPage, InventoryRow, NodeOperation, Page } from './types';
import {
  clusterKey,
  clustersKey,
  inventoryKey,
  operationKey,
  resourceOfKind,
  type InventoryData,
  type InventoryParams,
} from './queries';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCluster(value: unknown): value is Cluster {
  return isRecord(value) && typeof value.id === 'number' && typeof value.name === 'string' && typeof value.status === 'string';
}

function isRow(value: unknown): value is InventoryRow {
  return isRecord(value) && typeof value.name === 'string' && typeof value.kind === 'string';
}

// --- cluster rows -----------------------------------------------------------------

/** Replaces a cluster in a list page; `found` says whether it was there. */
export function patchClusterPage(
  page: Page<Cluster> | undefined,
  cluster: Cluster,
): { page: Page<Cluster> | undefined; found: boolean } {
  if (!page) return { page, found: false };
  const index = page.results.findIndex((c) => c.id === cluster.id);
  if (index < 0) return { page, found: false };
  const results = page.results.slice();
  results[index] = { ...results[index], ...cluster };
  return { page: { ...page, results }, found: true };
}

export function applyClusterUpdate(queryClient: QueryClient, cluster: Cluster): void {
  let missing = false;
  for (const [key, page] of queryClient.getQueriesData<Page<Cluster>>({ queryKey: [...clustersKey, 'list'] })) {
    const result = patchClusterPage(page, cluster);
    if (result.found) queryClient.setQueryData(key, result.page);
    else if (page) missing = true;
  }
  // A cluster we do not show yet (new, or now matching a filter): the server decides where it goes.
  if (missing) void queryClient.invalidateQueries({ queryKey: [...clustersKey, 'list'], refetchType: 'active' });
  queryClient.setQueryData<ClusterDetail>(clusterKey(cluster.id), (old) =>
    old ? { ...old, ...cluster, syncs: (cluster as Partial<ClusterDetail>).syncs ?? old.syncs } : old,
  );
}

// --- inventory rows ---------------------------------------------------------------

const rowKey = (row: { kind?: string; namespace?: string; name: string }) =>
  `${row.kind ?? ''}/${row.namespace ?? ''}/${row.name}`;

/** `app=web,tier!=db,canary,!legacy` → a predicate; null when the selector uses set syntax we do not evaluate. */
export function parseLabelSelector(selector: string): ((labels: Record<string, string>) => boolean) | null {
  const tests: Array<(labels: Record<string, string>) => boolean> = [];
  for (const raw of selector.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    if (/\s(in|notin)\s/.test(part) || part.includes('(')) return null;
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^([^!=]+)!=(.*)$/))) {
      const [k, v] = [m[1]!.trim(), m[2]!.trim()];
      tests.push((l) => l[k] !== v);
    } else if ((m = part.match(/^([^!=]+)==?(.*)$/))) {
      const [k, v] = [m[1]!.trim(), m[2]!.trim()];
      tests.push((l) => l[k] === v);
    } else if (part.startsWith('!')) {
      const k = part.slice(1).trim();
      tests.push((l) => !(k in l));
    } else {
      tests.push((l) => part in l);
    }
  }
  return (labels) => tests.every((test) => test(labels));
}

/** Whether a new row belongs in a list with these filters (false when we cannot tell). */
export function rowMatches(row: InventoryRow, params: InventoryParams): boolean {
  for (const [key, value] of Object.entries(params)) {
    switch (key) {
      case 'namespace':
        if (row.namespace !== value) return false;
        break;
      case 'node':
        if (row.node_name !== value) return false;
        break;
      case 'phase':
      case 'type':
        if (row.phase !== value) return false;
        break;
      case 'name_prefix':
        if (!row.name.startsWith(value)) return false;
        break;
      case 'q':
        if (!row.name.toLowerCase().includes(value.toLowerCase())) return false;
        break;
      case 'kind':
        if (!value.split(',').includes(row.kind)) return false;
        break;
      case 'label_selector': {
        const test = parseLabelSelector(value);
        if (!test || !test(row.labels ?? {})) return false;
        break;
      }
      case 'top_level': {
        // The workloads list hides what a workload it also lists controls (kubectl-like consoles do).
        const owner = isRecord(row.data) && isRecord(row.data.owner) ? String(row.data.owner.kind) : '';
        const controlled = (row.kind === 'ReplicaSet' && owner === 'Deployment') || (row.kind === 'Job' && owner === 'CronJob');
        if ((value === 'true') === controlled) return false;
        break;
      }
      case 'ordering':
        break;
      default:
        return false; // a filter we cannot evaluate here: leave it to a refetch
    }
  }
  return true;
}

function sortValue(row: InventoryRow, field: string): string | number {
  switch (field) {
    case 'created':
      return row.created ? Date.parse(row.created) : 0;
    case 'restarts':
      return isRecord(row.data) && typeof row.data.restarts === 'number' ? row.data.restarts : 0;
    case 'node_name':
      return row.node_name;
    case 'phase':
      return row.phase;
    case 'namespace':
      return row.namespace;
    default:
      return row.name;
  }
}

/** Comparator for a list's `ordering` (default: namespace, then name). */
export function rowComparator(ordering: string | undefined): (a: InventoryRow, b: InventoryRow) => number {
  const desc = ordering?.startsWith('-') ?? false;
  const field = ordering?.replace(/^-/, '') || 'namespace';
  return (a, b) => {
    const va = sortValue(a, field);
    const vb = sortValue(b, field);
    let c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
    if (c === 0) c = rowKey(a).localeCompare(rowKey(b));
    return desc ? -c : c;
  };
}

/**
 * Applies upserts and deletes to the loaded pages of one list. Existing rows are replaced where
 * they are; deleted rows disappear; a new row that matches the filters goes to its sorted place
 * in the loaded pages (or waits for paging if it sorts after everything loaded).
 */
export function patchInventory(
  data: InventoryData | undefined,
  params: InventoryParams,
  upserts: InventoryRow[],
  deletes: { namespace?: string; name: string; kind?: string }[],
): InventoryData | undefined {
  if (!data) return data;
  const gone = new Set(deletes.map(rowKey));
  const byKey = new Map(upserts.map((row) => [rowKey(row), row]));
  const seen = new Set<string>();
  let pages: InventoryPage[] = data.pages.map((page) => {
    const results: InventoryRow[] = [];
    for (const row of page.results) {
      const key = rowKey(row);
      if (gone.has(key) && !byKey.has(key)) continue;
      const next = byKey.get(key);
      if (next) seen.add(key);
      // Merged, not replaced: list rows may carry fields socket rows lack (a node's `requests`
      // and `pod_count`), which would read "—" after a cordon until a reload (issue 22).
      results.push(next ? { ...row, ...next } : row);
    }
    return { ...page, results };
  });
  const compare = rowComparator(params.ordering);
  for (const [key, row] of byKey) {
    if (seen.has(key) || !rowMatches(row, params)) continue;
    const lastIndex = pages.length - 1;
    for (let i = 0; i < pages.length; i++) {
      const page = pages[i]!;
      const last = page.results.at(-1);
      const isLast = i === lastIndex;
      if ((last && compare(row, last) < 0) || (isLast && !page.next)) {
        const results = page.results.slice();
        const at = results.findIndex((r) => compare(row, r) < 0);
        results.splice(at < 0 ? results.length : at, 0, row);
        pages[i] = { ...page, results };
        break;
      }
    }
  }
  return { ...data, pages };
}

/** One per-kind entry of an `objects.changed` message (docs/clusters-api.md). */
export interface ChangeEntry {
  kind: string;
  upserts?: unknown;
  deletes?: unknown;
  /** Digest: namespace → counts; the rows went to `cluster.<id>.ns.<namespace>`. */
  namespaces?: unknown;
  truncated?: unknown;
  relisted?: unknown;
}

/** What to refetch after applying a message: per resource, the namespaces (null: every list). */
export type Refetch = Map<InventoryResource, Set<string> | null>;

function addRefetch(out: Refetch, resource: InventoryResource, namespaces: string[] | null): void {
  const current = out.get(resource);
  if (current === null) return;
  if (namespaces === null) out.set(resource, null);
  else out.set(resource, new Set([...(current ?? []), ...namespaces]));
}

/** The entries of an `objects.changed` payload: `{"changes": [...]}`, or one bare entry. */
export function changeEntries(data: unknown): ChangeEntry[] {
  if (!isRecord(data)) return [];
  const list = Array.isArray(data.changes) ? data.changes : [data];
  return list.filter((e): e is ChangeEntry => isRecord(e) && typeof e.kind === 'string');
}

/**
 * Applies an `objects.changed` to every cached list of the kinds it names in the cluster: full
 * entries patch rows in place; digests, truncated and relisted entries are returned as what to
 * refetch.
 */
export function applyObjectsChanged(queryClient: QueryClient, clusterId: number, data: unknown): Refetch {
  const refetch: Refetch = new Map();
  for (const entry of changeEntries(data)) {
    const resource = resourceOfKind(entry.kind);
    if (!resource) continue;
    if (entry.truncated || entry.relisted) {
      addRefetch(refetch, resource, null);
      continue;
    }
    if (isRecord(entry.namespaces)) {
      addRefetch(refetch, resource, Object.keys(entry.namespaces));
      continue;
    }
    const upserts = Array.isArray(entry.upserts) ? entry.upserts.filter(isRow) : [];
    const deletes = (Array.isArray(entry.deletes) ? entry.deletes : [])
      .filter((d): d is { namespace?: string; name: string } => isRecord(d) && typeof d.name === 'string')
      .map((d) => ({ ...d, kind: entry.kind }));
    if (upserts.length === 0 && deletes.length === 0) continue;
    for (const [key, value] of queryClient.getQueriesData<InventoryData>({ queryKey: inventoryKey(clusterId, resource) })) {
      const params = (key[4] ?? {}) as InventoryParams;
      queryClient.setQueryData(key, patchInventory(value, params, upserts, deletes));
    }
    // Node and pod detail views read single objects: refresh them too.
    if (resource === 'nodes' || resource === 'pods') {
      void queryClient.invalidateQueries({ queryKey: [...clustersKey, clusterId, resource === 'nodes' ? 'node' : 'pod'] });
    }
  }
  return refetch;
}

/**
 * Namespaces whose `cluster.<id>.ns.<namespace>` group this page listens to (id/namespace →
 * listeners). Lists filtered to one of them get full rows from that group, so a digest on
 * `cluster.<id>` need not refetch them.
 */
const liveNamespaces = new Map<string, number>();
const nsKey = (clusterId: number, namespace: string) => `${clusterId}/${namespace}`;

/** Invalidates the lists a Refetch names (a list filtered to another namespace is left alone). */
export function invalidateLists(
  queryClient: QueryClient,
  clusterId: number,
  refetch: Refetch,
  { skipLive = true }: { skipLive?: boolean } = {},
): void {
  for (const [resource, namespaces] of refetch) {
    void queryClient.invalidateQueries({
      queryKey: inventoryKey(clusterId, resource),
      predicate: (query) => {
        if (namespaces === null) return true;
        const params = (query.queryKey[4] ?? {}) as InventoryParams;
        if (!params.namespace) return true;
        return namespaces.has(params.namespace) && !(skipLive && liveNamespaces.has(nsKey(clusterId, params.namespace)));
      },
    });
    if (resource === 'pods' || resource === 'nodes') {
      void queryClient.invalidateQueries({ queryKey: [...clustersKey, clusterId, resource === 'pods' ? 'pod' : 'node'] });
    }
  }
}

/** Drops a deleted cluster from every cached list page. */
export function removeCluster(queryClient: QueryClient, id: number): void {
  queryClient.setQueriesData<Page<Cluster>>({ queryKey: [...clustersKey, 'list'] }, (page) =>
    page && page.results.some((c) => c.id === id) ? { ...page, results: page.results.filter((c) => c.id !== id) } : page,
  );
}

function isOperation(value: unknown): value is NodeOperation {
  return isRecord(value) && typeof value.id === 'number' && typeof value.node === 'string' && typeof value.status === 'string';
}

/** Keeps the cluster table current from the `fleet` group. */
export function useFleetLive(enabled = true): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type === 'cluster.updated' && isCluster(event.data)) applyClusterUpdate(queryClient, event.data);
      else if (event.type === 'cluster.deleted' && isRecord(event.data) && typeof event.data.id === 'number')
        removeCluster(queryClient, event.data.id);
    },
    [queryClient],
  );
  const onResync = useCallback(
    () => void queryClient.invalidateQueries({ queryKey: [...clustersKey, 'list'] }),
    [queryClient],
  );
  useSubscription(enabled ? 'fleet' : null, onEvent, onResync);
}

/** Digests may arrive every 200 ms; refetch a list at most this often. */
export const DIGEST_REFETCH_MS = 1_000;
/** ... times the pages loaded, up to this factor. */
const MAX_REFETCH_FACTOR = 10;

/** Keeps one cluster's header and inventory lists current from `cluster.<id>`. */
export function useClusterLive(clusterId: number): void {
  const queryClient = useQueryClient();
  const pending = useRef<Refetch>(new Map());
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const lastRun = useRef(0);

  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );

  const schedule = useCallback(
    (refetch: Refetch) => {
      for (const [resource, namespaces] of refetch) addRefetch(pending.current, resource, namespaces === null ? null : [...namespaces]);
      if (timer.current || pending.current.size === 0) return;
      // A list scrolled deep refetches every loaded page: space those refetches out by size.
      const pages = queryClient
        .getQueriesData<InventoryData>({ queryKey: [...clustersKey, clusterId, 'inv'] })
        .reduce((most, [, d]) => Math.max(most, d?.pages.length ?? 1), 1);
      const interval = DIGEST_REFETCH_MS * Math.min(MAX_REFETCH_FACTOR, pages);
      const wait = Math.max(0, lastRun.current + interval - Date.now());
      timer.current = setTimeout(() => {
        timer.current = null;
        lastRun.current = Date.now();
        const due = pending.current;
        pending.current = new Map();
        invalidateLists(queryClient, clusterId, due);
      }, wait);
    },
    [queryClient, clusterId],
  );

  const onEvent = useCallback(
    (event: SocketEvent) => {
      const data = event.data;
      if (event.type === 'cluster.updated' && isCluster(data)) {
        applyClusterUpdate(queryClient, data);
        // Sync states live only in the detail: refresh them when the summary moves.
        void queryClient.invalidateQueries({ queryKey: clusterKey(clusterId), exact: true });
      } else if (event.type === 'cluster.deleted') {
        removeCluster(queryClient, clusterId);
        void queryClient.invalidateQueries({ queryKey: clusterKey(clusterId), exact: true });
      } else if (event.type === 'objects.changed') {
        schedule(applyObjectsChanged(queryClient, clusterId, data));
      } else if (event.type === 'node_operation.updated' && isOperation(data)) {
        queryClient.setQueryData(operationKey(clusterId, data.id), data);
      }
    },
    [queryClient, clusterId, schedule],
  );
  const onResync = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: clusterKey(clusterId) });
  }, [queryClient, clusterId]);
  useSubscription(Number.isInteger(clusterId) ? `cluster.${clusterId}` : null, onEvent, onResync);
}

/**
 * While a list is filtered to one namespace, listen to `cluster.<id>.ns.<namespace>` too: it
 * carries full rows for that namespace's objects, which patch the cache in place.
 */
export function useNamespaceLive(clusterId: number, namespace: string): void {
  const queryClient = useQueryClient();
  const ns = namespace.trim();
  useEffect(() => {
    if (!ns) return undefined;
    const key = nsKey(clusterId, ns);
    liveNamespaces.set(key, (liveNamespaces.get(key) ?? 0) + 1);
    return () => {
      const left = (liveNamespaces.get(key) ?? 1) - 1;
      if (left <= 0) liveNamespaces.delete(key);
      else liveNamespaces.set(key, left);
    };
  }, [clusterId, ns]);
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type !== 'objects.changed') return;
      const refetch = applyObjectsChanged(queryClient, clusterId, event.data);
      // truncated / relisted: refetch this namespace's lists (and unfiltered ones)
      for (const resource of refetch.keys()) refetch.set(resource, new Set([ns]));
      invalidateLists(queryClient, clusterId, refetch, { skipLive: false });
    },
    [queryClient, clusterId, ns],
  );
  const onResync = useCallback(() => {
    void queryClient.invalidateQueries({
      queryKey: [...clustersKey, clusterId, 'inv'],
      predicate: (query) => ((query.queryKey[4] ?? {}) as InventoryParams).namespace === ns,
    });
  }, [queryClient, clusterId, ns]);
  useSubscription(ns && Number.isInteger(clusterId) ? `cluster.${clusterId}.ns.${ns}` : null, onEvent, onResync);
}
