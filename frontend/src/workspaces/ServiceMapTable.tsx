/**
 * Service maps on the console's DataTable: status, quota use bars and workload/pod counts, each
 * linking to its page. The /servicemaps page hands it keyset pages and a server-side sort; a
 * workspace's tab hands it its plain list, sorted here by the same keys.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { DataTable, type ColumnDef } from '../components/table';
import { messageText } from '../lib/messages';
import { sortRows } from '../lists/keyset';
import { QuotaBar, StateBadge } from './common';
import { orderedKeys } from './quantity';
import type { ServiceMap, ServiceMapDeletion } from './types';

const BAR_KEYS = ['requests.cpu', 'requests.memory', 'pods'];

/** The orderings GET …/servicemaps/ declares (workspaces/api/views.py SERVICE_MAP_ORDERINGS). */
export const SERVICE_MAP_SORT_KEYS = ['namespace', 'cluster', 'status', 'created'] as const;

const CLIENT_SORT: Record<string, (sm: ServiceMap) => string> = {
  namespace: (sm) => sm.namespace,
  cluster: (sm) => sm.cluster.name,
  status: (sm) => sm.status,
  created: (sm) => String((sm as ServiceMap & { created?: string }).created ?? ''),
};

export const serviceMapPath = (sm: Pick<ServiceMap, 'id' | 'workspace'>) => `/workspaces/${sm.workspace.id}/servicemaps/${sm.id}`;

function useServiceMapColumns(showWorkspace: boolean): ColumnDef<ServiceMap>[] {
  const { t } = useTranslation();
  return useMemo(() => {
    const columns: ColumnDef<ServiceMap>[] = [
      {
        id: 'name',
        meta: { label: t('workspaces.servicemap.name'), sortKey: 'namespace', priority: 1 },
        cell: ({ row: { original: sm } }) => (
          <>
            <Link to={serviceMapPath(sm)} data-testid="servicemap-link">
              {sm.display_name || sm.namespace}
            </Link>
            <div className="mono small muted">{sm.namespace}</div>
          </>
        ),
      },
    ];
    if (showWorkspace)
      columns.push({
        id: 'workspace',
        meta: { label: t('workspaces.servicemap.workspace'), priority: 2 },
        cell: ({ row: { original: sm } }) => <Link to={`/workspaces/${sm.workspace.id}`}>{sm.workspace.name}</Link>,
      });
    columns.push(
      {
        id: 'cluster',
        meta: { label: t('workspaces.field.cluster'), sortKey: 'cluster', priority: 2, className: 'mono' },
        cell: ({ row: { original: sm } }) => sm.cluster.display_name || sm.cluster.name,
      },
      {
        id: 'status',
        meta: { label: t('clusters.col.status'), sortKey: 'status', priority: 1 },
        cell: ({ row: { original: sm } }) => (
          <>
            <StateBadge status={sm.status} message={messageText(t, sm)} testId="servicemap-status" />
            {(sm as ServiceMap & ServiceMapDeletion).deletion_stuck && (
              <span className="badge tone-bad" data-testid="deletion-stuck" title={sm.message || undefined}>
                {t('workspaces.servicemap.deletionStuck')}
              </span>
            )}
            {!sm.in_sync && sm.status !== 'deleting' && (
              <span className="badge tone-warn" data-testid="not-in-sync">
                {t('workspaces.servicemap.notInSync')}
              </span>
            )}
          </>
        ),
      },
      {
        id: 'usage',
        meta: { label: t('workspaces.servicemap.usage'), priority: 2, className: 'bars-cell' },
        cell: ({ row: { original: sm } }) => {
          const keys = orderedKeys(sm.usage).filter((k) => BAR_KEYS.includes(k));
          return keys.length === 0 ? (
            <span className="muted">—</span>
          ) : (
            keys.map((k) => <QuotaBar key={k} resource={k} used={sm.usage[k]?.used} total={sm.usage[k]?.hard} testId={`usage-${k}`} />)
          );
        },
      },
      {
        id: 'workloads',
        meta: { label: t('workspaces.servicemap.workloads'), align: 'end', priority: 3, cellTestId: 'cell-workloads' },
        cell: ({ row: { original: sm } }) => `${sm.workloads.ready}/${sm.workloads.total}`,
      },
      {
        id: 'pods',
        meta: { label: t('workspaces.servicemap.pods'), align: 'end', priority: 3, cellTestId: 'cell-pods' },
        cell: ({ row: { original: sm } }) => (
          <>
            {sm.pods.running}/{sm.pods.total}
            {sm.pods.failed > 0 && <span className="bad-text"> · {t('workspaces.servicemap.failed', { count: sm.pods.failed })}</span>}
          </>
        ),
      },
    );
    return columns;
  }, [t, showWorkspace]);
}

export function ServiceMapTable({
  rows,
  showWorkspace = false,
  ordering,
  onOrderingChange,
  hasMore,
  loadingMore,
  onLoadMore,
  loading,
  error,
  empty,
  toolbar,
}: {
  rows: readonly ServiceMap[];
  showWorkspace?: boolean;
  /** With `onOrderingChange`: the server sorts (keyset pages); without: the rows are sorted here. */
  ordering?: string | null;
  onOrderingChange?: (ordering: string | null) => void;
  hasMore?: boolean;
  loadingMore?: boolean;
  onLoadMore?: () => void;
  loading?: boolean;
  error?: unknown;
  empty?: ReactNode;
  toolbar?: ReactNode;
}) {
  const { t } = useTranslation();
  const columns = useServiceMapColumns(showWorkspace);
  const [own, setOwn] = useState<string | null>(null);
  const server = onOrderingChange !== undefined;
  const shown = useMemo(() => (server ? rows : sortRows(rows, own, CLIENT_SORT)), [server, rows, own]);
  return (
    <DataTable<ServiceMap>
      tableKey="servicemaps"
      label={t('nav.servicemaps')}
      columns={columns}
      rows={shown}
      getRowId={(sm) => String(sm.id)}
      ordering={server ? (ordering ?? null) : own}
      onOrderingChange={onOrderingChange ?? setOwn}
      hasMore={hasMore}
      loadingMore={loadingMore}
      onLoadMore={onLoadMore}
      loading={loading}
      error={error}
      empty={empty}
      toolbar={toolbar}
      rowClassName={(sm) => `servicemap-${sm.status}`}
      rowTestId={(sm) => `servicemap-row-${sm.namespace}`}
      testId="servicemaps-table"
    />
  );
}
