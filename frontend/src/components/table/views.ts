/**
 * Saved column sets per user and table (`/api/account/table-views/`, docs/console.md). The list
 * of one table's sets is small (at most 20) and read once per session; writes update the cache.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { request } from '../../api/request';
import type { TableView } from './types';

export const tableViewsKey = (table: string) => ['table-views', table] as const;

const BASE = '/api/account/table-views/';

export const tableViewsApi = {
  list: (table: string, signal?: AbortSignal) => request<TableView[]>('GET', BASE, { query: { table }, signal }),
  create: (body: { table: string; name: string; columns: string[]; is_default?: boolean }) =>
    request<TableView>('POST', BASE, { body }),
  patch: (id: number, body: Partial<Pick<TableView, 'name' | 'columns' | 'is_default'>>) =>
    request<TableView>('PATCH', `${BASE}${id}/`, { body }),
  remove: (id: number) => request<void>('DELETE', `${BASE}${id}/`),
};

export function useTableViews(table: string) {
  return useQuery({
    queryKey: tableViewsKey(table),
    queryFn: ({ signal }) => tableViewsApi.list(table, signal),
    staleTime: Infinity,
    retry: false,
  });
}

/** Puts a saved or changed view into the cached list; a new default clears the old one. */
function merge(list: TableView[] | undefined, view: TableView): TableView[] {
  const rest = (list ?? []).filter((v) => v.id !== view.id).map((v) => (view.is_default ? { ...v, is_default: false } : v));
  return [...rest, view].sort((a, b) => a.name.localeCompare(b.name));
}

export function useSaveTableView(table: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, name, columns, is_default }: { id?: number; name: string; columns: string[]; is_default?: boolean }) =>
      id === undefined
        ? tableViewsApi.create({ table, name, columns, ...(is_default === undefined ? {} : { is_default }) })
        : tableViewsApi.patch(id, { name, columns, ...(is_default === undefined ? {} : { is_default }) }),
    onSuccess: (view) => queryClient.setQueryData<TableView[]>(tableViewsKey(table), (old) => merge(old, view)),
  });
}

export function useSetDefaultTableView(table: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, is_default }: { id: number; is_default: boolean }) => tableViewsApi.patch(id, { is_default }),
    onSuccess: (view) => queryClient.setQueryData<TableView[]>(tableViewsKey(table), (old) => merge(old, view)),
  });
}

export function useDeleteTableView(table: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => tableViewsApi.remove(id),
    onSuccess: (_, id) =>
      queryClient.setQueryData<TableView[]>(tableViewsKey(table), (old) => (old ?? []).filter((v) => v.id !== id)),
  });
}
