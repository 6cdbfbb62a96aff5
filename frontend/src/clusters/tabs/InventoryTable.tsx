/**
 * A generic inventory list (namespaces, workloads, services, …): the cached, cursor-paged rows
 * of one kind with a freshness line, a "load more" button and columns given by the caller.
 */
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ErrorState } from '../../components/ErrorState';
import { Loading } from '../../components/Loading';
import { relativeTime, useNow } from '../format';
import type { InventoryResource } from '../api';
import { useNamespaceLive } from '../live';
import { useInventory, type InventoryParams } from '../queries';
import type { InventoryPage, InventoryRow, Kind, KindData } from '../types';

export interface Column<D> {
  key: string;
  header: string;
  render: (row: InventoryRow<D>) => ReactNode;
  className?: string;
}

export function FreshnessLine({ page }: { page: InventoryPage | undefined }) {
  const { t, i18n } = useTranslation();
  const now = useNow();
  const f = page?.freshness;
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

export function InventoryTable<K extends Kind>({
  clusterId,
  resource,
  params,
  columns,
  testId,
  rowTestId,
  rowClassName,
}: {
  clusterId: number;
  resource: InventoryResource;
  params: InventoryParams;
  columns: Column<KindData[K]>[];
  testId: string;
  rowTestId?: (row: InventoryRow<KindData[K]>) => string;
  rowClassName?: (row: InventoryRow<KindData[K]>) => string | undefined;
}) {
  const { t } = useTranslation();
  const list = useInventory<K>(clusterId, resource, params);
  useNamespaceLive(clusterId, params.namespace ?? '');
  if (list.isPending) return <Loading />;
  if (list.isError) return <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  const rows = list.data.pages.flatMap((p) => p.results);
  return (
    <>
      <FreshnessLine page={list.data.pages[0]} />
      {rows.length === 0 ? (
        <p className="muted empty-line" data-testid={`${testId}-empty`}>
          {t('clusters.noObjects')}
        </p>
      ) : (
        <div className="table-wrap">
          <table className="table table-dense" data-testid={testId}>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c.key} scope="col">
                    {c.header}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={`${row.kind}/${row.namespace}/${row.name}`} data-testid={rowTestId?.(row)} className={rowClassName?.(row)}>
                  {columns.map((c) => (
                    <td key={c.key} className={c.className}>
                      {c.render(row)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.hasNextPage && (
        <div className="pager">
          <button type="button" className="btn" disabled={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()} data-testid="load-more">
            {list.isFetchingNextPage ? t('app.loading') : t('clusters.loadMore')}
          </button>
        </div>
      )}
    </>
  );
}
