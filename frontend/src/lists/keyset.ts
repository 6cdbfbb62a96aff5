/**
 * What the list pages (issue 20, "lists") share on top of TABLE's DataTable and useKeysetList:
 * the query keys of their keyset lists, a page fetcher for any `{next, previous, results}`
 * endpoint, the ordering and filters kept in the URL, client-side sorting for the few lists the
 * API answers as one plain array, and patching a live row into (or out of) the loaded pages.
 */
import { useQueryClient, type InfiniteData, type QueryClient } from '@tanstack/react-query';
import { useCallback, useEffect } from 'react';
import { useSearchParams } from 'react-router-dom';
import { request, type QueryValue } from '../api/request';
import type { KeysetPage } from '../components/table';

/** Rows per keyset page of the migrated lists. */
export const PAGE_SIZE = 50;

/** Query keys of the migrated lists: their own prefix, so the older list caches (plain pages) never mix with infinite data. */
export const keysetKey = (table: string, query?: unknown) => (query === undefined ? (['lists', table] as const) : (['lists', table, query] as const));

/** One page of a list endpoint: `cursor` from the previous page's `next` (null for the first). */
export function fetchKeysetPage<T>(path: string, query: Record<string, QueryValue>, cursor: string | null): Promise<KeysetPage<T>> {
  return request<KeysetPage<T>>('GET', path, { query: { page_size: PAGE_SIZE, ...query, ...(cursor ? { cursor } : {}) } });
}

/** `raw` when it names one of `keys` (optionally with '-'), else null (the server's default), so a stale URL never asks for a 400. */
export function validOrdering(raw: string | null | undefined, keys: readonly string[]): string | null {
  if (!raw) return null;
  return keys.includes(raw.replace(/^-/, '')) ? raw : null;
}

/** The page's search parameters with a setter that drops empty values and replaces history. */
export function useUrlFilters(): { params: URLSearchParams; set: (key: string, value: string) => void } {
  const [params, setParams] = useSearchParams();
  const set = useCallback(
    (key: string, value: string) =>
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          if (value) next.set(key, value);
          else next.delete(key);
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );
  return { params, set };
}

/** Client-side order of a plain (unpaged) list by `ordering` over `keyOf` values; ties keep their order. */
export function sortRows<T>(rows: readonly T[], ordering: string | null, keyOf: Record<string, (row: T) => string | number | null | undefined>): T[] {
  if (!ordering) return [...rows];
  const desc = ordering.startsWith('-');
  const get = keyOf[ordering.replace(/^-/, '')];
  if (!get) return [...rows];
  const cmp = (a: T, b: T): number => {
    const x = get(a);
    const y = get(b);
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return desc ? -r : r;
  };
  return rows.map((row, i) => ({ row, i })).sort((a, b) => cmp(a.row, b.row) || a.i - b.i).map((e) => e.row);
}

type Keyset<T> = InfiniteData<KeysetPage<T>, string | null>;

/**
 * Applies `change` to the row with `id` in every loaded keyset list under `prefix`: a new row
 * (merged over the old), or null to drop it. Returns whether some list held it; a list that did
 * not (a new row, or one that moved into its filter) is the caller's to refetch.
 */
export function patchKeysetRows<T extends object>(
  queryClient: QueryClient,
  prefix: readonly unknown[],
  match: (row: T) => boolean,
  change: (row: T) => T | null,
): boolean {
  let found = false;
  for (const [key, data] of queryClient.getQueriesData<Keyset<T>>({ queryKey: prefix })) {
    if (!data || !Array.isArray(data.pages)) continue;
    let changed = false;
    const pages = data.pages.map((page) => {
      if (!page.results.some(match)) return page;
      changed = true;
      const results: T[] = [];
      for (const row of page.results) {
        if (!match(row)) results.push(row);
        else {
          const next = change(row);
          if (next) results.push(next);
        }
      }
      return { ...page, results };
    });
    if (changed) {
      found = true;
      queryClient.setQueryData<Keyset<T>>(key, { ...data, pages });
    }
  }
  return found;
}

/**
 * Refetches a list cached from an earlier visit when its page opens again: the writes that change
 * these lists (a new build definition, a deploy, a new service map) invalidate the older list keys,
 * not these, and a list up to 10 s old (the default staleTime) would otherwise show as it was.
 */
export function useRefetchCachedOnMount(queryKey: readonly unknown[]): void {
  const queryClient = useQueryClient();
  const keyText = JSON.stringify(queryKey);
  useEffect(() => {
    const key = JSON.parse(keyText) as unknown[];
    const state = queryClient.getQueryState(key);
    if (state?.data !== undefined && state.fetchStatus === 'idle') void queryClient.invalidateQueries({ queryKey: key, exact: true });
  }, [queryClient, keyText]);
}
