/**
 * An inventory list of one cluster (nodes, pods, workloads, services, …) on the console's one
 * table (components/table): keyset pages of the read model fetched with `useKeysetList` under the
 * inventory query key (so live.ts patches them from `cluster.<id>` events), sorted on the server
 * by the list's `ordering`, with the list's freshness above it.
 *
 * `InventoryList` takes TanStack column definitions; `InventoryTable` keeps the older
 * `{key, header, render}` columns that pages outside the cluster page still pass.
 */
import { hashKey, useQueryClient } from '@tanstack/react-query';
import { useCallback, useMemo, useSyncExternalStore, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { DataTable, useKeysetList, type ColumnDef, type KeysetList, pagingProps } from '../../components/table';
import { relativeTime, useNow } from '../format';
import { clustersApi, type InventoryResource } from '../api';
import { useNamespaceLive } from '../live';
import { cleanParams, inventoryKey, type InventoryData, type InventoryParams } from '../queries';
import type { InventoryPage, InventoryRow, Kind, KindData } from '../types';

export interface Column<D> {
  key: string;
  header: string;
  render: (row: InventoryRow<D>) => ReactNode;
  className?: string;
}

type Freshness = InventoryPage['freshness'];

export function FreshnessLine({ page, freshness }: { page?: InventoryPage | undefined; freshness?: Freshness | undefined }) {
  const { t, i18n } = useTranslation();
  const now = useNow();
  const f = freshness ?? page?.freshness;
  if (!f) return null;
  const state = f.state;
  const flagged = state === 'stale' || state === 'unreachable' || state === 'unauthorized' || state === 'forbidden';
  const known = ['syncing', 'synced', 'stale', 'unreachable', 'unauthorized', 'forbidden', 'fresh'] as const;
  const s = known.find((k) => k === state);
  return (
    <p className={`freshness-line ${flagged ? 'flagged' : ''}`} data-testid="list-freshness" data-state={state}>
      <span className={`fresh-dot fresh-${state}`} aria-hidden="true" />
      {s ? t(`clusters.listFreshness.${s}`) : state}
      {f.last_event && <span className="muted"> · {t('clusters.lastEvent', { when: relativeTime(f.last_event, now, i18n.language) })}</span>}
    </p>
  );
}

/** The row key live.ts and the table agree on. */
export const inventoryRowId = (row: { kind: string; namespace: string; name: string }) => `${row.kind}/${row.namespace}/${row.name}`;

/**
 * Keyset pages of one inventory list (`params` include `ordering`), and the freshness the server
 * sent with the first page, read from the same cache entry so a live patch or refetch updates it.
 */
export function useInventoryList<K extends Kind>(
  clusterId: number,
  resource: InventoryResource,
  params: InventoryParams,
  { pageSize = 200, enabled = true }: { pageSize?: number; enabled?: boolean } = {},
): KeysetList<InventoryRow<KindData[K]>> & { freshness: Freshness | undefined } {
  const clean = cleanParams(params);
  const queryKey = inventoryKey(clusterId, resource, clean);
  const keyText = JSON.stringify(queryKey);
  const fetchPage = useCallback(
    async (cursor: string | null) => {
      const page = await clustersApi.inventory<KindData[K]>(clusterId, resource, { ...clean, page_size: pageSize, cursor });
      return { ...page, next: page.next ?? null };
    },
    // keyed by the query key's text: `clean` is a new object on every render
    [keyText, pageSize],
  );
  const list = useKeysetList<InventoryRow<KindData[K]>>({ queryKey, fetchPage, enabled });
  const queryClient = useQueryClient();
  // Only this list's entry: other components create queries while they render, and a
  // notification for theirs would update this one in the middle of their render.
  const hash = hashKey(queryKey);
  const subscribe = useCallback(
    (notify: () => void) => queryClient.getQueryCache().subscribe((event) => event.query.queryHash === hash && notify()),
    [queryClient, hash],
  );
  const freshness = useSyncExternalStore(subscribe, () => queryClient.getQueryData<InventoryData>(queryKey)?.pages[0]?.freshness);
  return { ...list, freshness };
}

export interface InventoryListProps<K extends Kind> {
  clusterId: number;
  resource: InventoryResource;
  /** Filters sent to the API; `ordering` among them is the table's sort. */
  params: InventoryParams;
  onOrderingChange?: (ordering: string | null) => void;
  tableKey: string;
  label: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  columns: ColumnDef<InventoryRow<KindData[K]>, any>[];
  testId: string;
  rowTestId?: (row: InventoryRow<KindData[K]>) => string;
  rowClassName?: (row: InventoryRow<KindData[K]>) => string | undefined;
  /** `data-*` attributes of each row (state the browser tests read from the row). */
  rowAttributes?: (row: InventoryRow<KindData[K]>) => Record<`data-${string}`, string | undefined>;
  toolbar?: ReactNode;
  pageSize?: number;
  maxHeight?: number | string;
  /** Shown between the freshness line and the table (counts, followed actions). */
  above?: ReactNode;
}

export function InventoryList<K extends Kind>({
  clusterId,
  resource,
  params,
  onOrderingChange,
  tableKey,
  label,
  columns,
  testId,
  rowTestId,
  rowClassName,
  rowAttributes,
  toolbar,
  pageSize,
  maxHeight,
  above,
}: InventoryListProps<K>) {
  const { t } = useTranslation();
  const list = useInventoryList<K>(clusterId, resource, params, { pageSize });
  useNamespaceLive(clusterId, params.namespace ?? '');
  return (
    <>
      <FreshnessLine freshness={list.freshness} />
      {above}
      <DataTable<InventoryRow<KindData[K]>>
        tableKey={tableKey}
        label={label}
        columns={columns}
        rows={list.rows}
        getRowId={inventoryRowId}
        ordering={params.ordering || null}
        onOrderingChange={onOrderingChange}
        {...pagingProps(list)}
        empty={
          <span className="muted" data-testid={`${testId}-empty`}>
            {t('clusters.noObjects')}
          </span>
        }
        toolbar={toolbar}
        rowTestId={rowTestId}
        rowClassName={rowClassName}
        {...(rowAttributes ? { rowAttributes } : {})}
        testId={testId}
        maxHeight={maxHeight}
      />
    </>
  );
}

/** `{key, header, render}` columns as TanStack column definitions (display columns, not sortable). */
export function fromColumns<D>(columns: Column<D>[]): ColumnDef<InventoryRow<D>, unknown>[] {
  return columns.map((c) => ({
    id: c.key,
    header: c.header,
    cell: ({ row }) => c.render(row.original),
    meta: { label: c.header, className: c.className },
  }));
}

/** The older entry point: the same list with `{key, header, render}` columns (used by object and service map pages). */
export function InventoryTable<K extends Kind>({
  clusterId,
  resource,
  params,
  columns,
  testId,
  rowTestId,
  rowClassName,
  tableKey,
  label,
}: {
  clusterId: number;
  resource: InventoryResource;
  params: InventoryParams;
  columns: Column<KindData[K]>[];
  testId: string;
  rowTestId?: (row: InventoryRow<KindData[K]>) => string;
  rowClassName?: (row: InventoryRow<KindData[K]>) => string | undefined;
  tableKey?: string;
  label?: string;
}) {
  const { t } = useTranslation();
  const defs = useMemo(() => fromColumns(columns), [columns]);
  return (
    <InventoryList<K>
      clusterId={clusterId}
      resource={resource}
      params={params}
      tableKey={tableKey ?? `cluster.${resource}`}
      label={label ?? t(`clusters.tab.${resource}` as 'clusters.tab.pods', { defaultValue: resource })}
      columns={defs}
      testId={testId}
      rowTestId={rowTestId}
      rowClassName={rowClassName}
    />
  );
}
