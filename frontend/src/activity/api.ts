/**
 * The activity timeline's endpoints (docs/activity.md), through the small typed `request` helper;
 * the page's types come from the generated paths (the diff's `before` is narrower here than the
 * schema's free-form object).
 */
import { request, type QueryValue } from '../api/request';
import type { paths } from '../api/schema';
import type { JsonOf } from '../api/types';

export const SOURCES = ['portal', 'event', 'release', 'outside', 'exec'] as const;
export type Source = (typeof SOURCES)[number];

/** What a timeline is about: one object (or a namespace, or a whole cluster), a service map, a workspace. */
export type TimelineScope =
  | { cluster: number; namespace?: string; kind?: string; name?: string }
  | { serviceMap: number }
  | { workspace: number };

/** One entry and one page of the timeline, as the generated schema says (activity/api). */
export type TimelinePage = JsonOf<paths['/api/activity/']['get']['responses'][200]>;
export type TimelineEntry = TimelinePage['results'][number];

export interface EntryDiff {
  id: string;
  diff: string;
  before: { time: string; manager: string } | null;
}

export function scopeQuery(scope: TimelineScope): Record<string, QueryValue> {
  if ('serviceMap' in scope) return { service_map: scope.serviceMap };
  if ('workspace' in scope) return { workspace: scope.workspace };
  const query: Record<string, QueryValue> = { cluster: scope.cluster };
  if (scope.name && scope.kind) {
    query.kind = scope.kind;
    query.name = scope.name;
    query.namespace = scope.namespace ?? '';
  } else if (scope.namespace) {
    query.namespace = scope.namespace;
  }
  return query;
}

/** The cursor of a `next` link. */
export function cursorOf(next: string | null): string | null {
  if (!next) return null;
  return new URL(next, 'http://localhost').searchParams.get('cursor');
}

export function fetchTimeline(
  scope: TimelineScope,
  sources: readonly Source[],
  cursor: string | null,
  { pageSize, signal }: { pageSize?: number; signal?: AbortSignal } = {},
): Promise<TimelinePage> {
  const query: Record<string, QueryValue> = { ...scopeQuery(scope), cursor, page_size: pageSize };
  if (sources.length < SOURCES.length) query.source = sources.join(',');
  // An object's namespace may be "" (a cluster-scoped object): send it even when empty.
  const path = 'namespace' in query && query.namespace === '' ? '/api/activity/?namespace=' : '/api/activity/';
  return request<TimelinePage>('GET', path, { query, signal });
}

export function fetchDiff(id: string, signal?: AbortSignal): Promise<EntryDiff> {
  return request<EntryDiff>('GET', `/api/activity/diff/${id}/`, { signal });
}
