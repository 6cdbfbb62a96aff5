/**
 * Keyset paging over any list endpoint that answers `{next, previous, results}`: pages are
 * fetched one after another (react-query `useInfiniteQuery`) and concatenated; `loadMore` asks
 * for the next page (DataTable calls it when the user scrolls near the end).
 */
import { useInfiniteQuery, type InfiniteData } from '@tanstack/react-query';
import { useCallback, useMemo } from 'react';
import type { KeysetPage } from './types';

/** The cursor of a `next` link (a full URL with `?cursor=`), or the value itself when it is a bare cursor. */
export function nextCursor(next: string | null | undefined): string | null {
  if (!next) return null;
  if (!next.includes('/') && !next.includes('?')) return next;
  try {
    const base = typeof window === 'undefined' ? 'http://localhost' : window.location.origin;
    return new URL(next, base).searchParams.get('cursor');
  } catch {
    return null;
  }
}

export type KeysetData<T> = InfiniteData<KeysetPage<T>, string | null>;

export interface KeysetList<T> {
  rows: T[];
  hasMore: boolean;
  loadMore: () => void;
  loadingMore: boolean;
  isLoading: boolean;
  error: unknown;
  refetch: () => void;
}

/** The paging props of a DataTable (or a table built on it) from a keyset list: `{...pagingProps(list)}`. */
export function pagingProps<T>(list: KeysetList<T>): {
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore: () => void;
  loading: boolean;
  error: unknown;
} {
  return { hasMore: list.hasMore, loadingMore: list.loadingMore, onLoadMore: list.loadMore, loading: list.isLoading, error: list.error };
}

export function useKeysetList<T>({
  queryKey,
  fetchPage,
  enabled = true,
}: {
  queryKey: readonly unknown[];
  fetchPage: (cursor: string | null) => Promise<KeysetPage<T>>;
  enabled?: boolean;
}): KeysetList<T> {
  const query = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    initialPageParam: null as string | null,
    getNextPageParam: (last: KeysetPage<T>) => nextCursor(last.next) ?? undefined,
    enabled,
    // Each page is new data: comparing every loaded row on each fetch costs O(all rows) at 10,000 rows.
    structuralSharing: false,
  });
  const { data, hasNextPage, isFetchingNextPage, fetchNextPage, isPending, error, refetch } = query;
  const rows = useMemo(() => (data ? data.pages.flatMap((p) => p.results) : []), [data]);
  const loadMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);
  const again = useCallback(() => void refetch(), [refetch]);
  return {
    rows,
    hasMore: Boolean(hasNextPage),
    loadMore,
    loadingMore: isFetchingNextPage,
    isLoading: enabled && isPending,
    error: error ?? null,
    refetch: again,
  };
}
