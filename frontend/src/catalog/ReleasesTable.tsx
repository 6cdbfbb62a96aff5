/**
 * Release lists on the console's DataTable: the global /releases page (filters `q`, `workspace`
 * and the sort `ordering` in the URL) and the "Releases" tab of a service map. Sorting, filtering
 * and paging ask the server (keyset pages of /api/catalog/releases/); rows stay live from each
 * listed workspace's `workspace.<id>` group (`release.updated` patches, `release.deleted` drops).
 */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { FormField } from '../components/FormField';
import { DataTable, useKeysetList, type ColumnDef, pagingProps } from '../components/table';
import { relativeTime, useNow } from '../clusters/format';
import { SearchInput } from '../lists/SearchInput';
import { messageText } from '../lib/messages';
import type { SocketEvent } from '../lib/socket';
import { fetchKeysetPage, keysetKey, patchKeysetRows, useRefetchCachedOnMount, useUrlFilters, validOrdering } from '../lists/keyset';
import { hasId, ListLive } from '../lists/ListLive';
import { useWorkspaces } from '../workspaces/queries';
import { CatalogBadge } from './common';
import type { Release, ReleaseQuery } from './types';

const SORT_KEYS = ['name', 'status', 'updated'] as const;
const STATUSES = ['pending', 'deploying', 'deployed', 'failed', 'deleting'] as const;
const TABLE = 'releases';

function useReleaseColumns(showServiceMap: boolean): ColumnDef<Release>[] {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  return useMemo(() => {
    const columns: ColumnDef<Release>[] = [
      {
        id: 'name',
        meta: { label: t('catalog.col.name'), sortKey: 'name', priority: 1 },
        cell: ({ row: { original: r } }) => (
          <Link to={`/releases/${r.id}`} className="mono" data-testid="release-link">
            {r.name}
          </Link>
        ),
      },
      {
        id: 'package',
        meta: { label: t('catalog.col.package'), priority: 2 },
        cell: ({ row: { original: r } }) => (
          <>
            <Link to={`/catalog/packages/${r.package.id}`}>{r.package.name}</Link> <span className="mono small">{r.version.version}</span>
          </>
        ),
      },
    ];
    if (showServiceMap)
      columns.push({
        id: 'target',
        meta: { label: t('catalog.col.target'), priority: 2, className: 'small' },
        cell: ({ row: { original: r } }) => (
          <>
            <Link to={`/workspaces/${r.workspace.id}/servicemaps/${r.service_map.id}`}>
              {r.service_map.cluster.name} / <span className="mono">{r.service_map.namespace}</span>
            </Link>
            <div className="muted">{r.workspace.name}</div>
          </>
        ),
      });
    columns.push(
      {
        id: 'status',
        meta: { label: t('catalog.col.status'), sortKey: 'status', priority: 1 },
        cell: ({ row: { original: r } }) => (
          <span data-status={r.status} className="list-state">
            <CatalogBadge state={r.status} title={messageText(t, r)} testId="release-status" />
          </span>
        ),
      },
      {
        id: 'revision',
        meta: { label: t('catalog.col.revision'), align: 'end', priority: 3 },
        cell: ({ row: { original: r } }) => `${r.deployed_revision}/${r.revision}`,
      },
      {
        id: 'updated',
        meta: { label: t('catalog.col.updated'), sortKey: 'updated', priority: 2, className: 'small nowrap' },
        cell: ({ row: { original: r } }) => <span title={r.updated}>{relativeTime(r.updated, now, i18n.language)}</span>,
      },
    );
    return columns;
  }, [t, i18n.language, now, showServiceMap]);
}

export function ReleasesTable({
  query,
  showServiceMap = true,
  ordering: wanted = null,
  onOrderingChange,
  toolbar,
}: {
  query: ReleaseQuery;
  showServiceMap?: boolean;
  ordering?: string | null;
  onOrderingChange?: (ordering: string | null) => void;
  toolbar?: React.ReactNode;
}) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const columns = useReleaseColumns(showServiceMap);
  // The page keeps the sort in its URL; a tab without one keeps it here.
  const [own, setOwn] = useState<string | null>(null);
  const ordering = onOrderingChange ? wanted : own;
  const full = useMemo(() => ({ ...query, ...(ordering ? { ordering } : {}) }), [query, ordering]);
  const list = useKeysetList<Release>({
    queryKey: keysetKey(TABLE, full),
    fetchPage: (cursor) => fetchKeysetPage<Release>('/api/catalog/releases/', full as Record<string, string | number>, cursor),
  });
  useRefetchCachedOnMount(keysetKey(TABLE, full));
  const groups = [...new Set(list.rows.map((r) => `workspace.${r.workspace.id}`))];
  if (query.workspace) groups.push(`workspace.${query.workspace}`);
  const onEvent = useCallback(
    (event: SocketEvent) => {
      const data = event.data;
      if (event.type === 'release.updated' && hasId(data) && typeof data.revision === 'number') {
        const found = patchKeysetRows<Release>(queryClient, keysetKey(TABLE), (r) => r.id === data.id, (r) => ({ ...r, ...(data as Partial<Release>) }));
        if (!found || ordering) void queryClient.invalidateQueries({ queryKey: keysetKey(TABLE) });
      } else if (event.type === 'release.deleted' && hasId(data)) {
        patchKeysetRows<Release>(queryClient, keysetKey(TABLE), (r) => r.id === data.id, () => null);
      }
    },
    [queryClient, ordering],
  );
  return (
    <>
      <ListLive groups={groups} onEvent={onEvent} queryKey={keysetKey(TABLE)} />
      <DataTable<Release>
        tableKey={TABLE}
        label={t('catalog.releases.title')}
        columns={columns}
        rows={list.rows}
        getRowId={(r) => String(r.id)}
        ordering={ordering}
        onOrderingChange={onOrderingChange ?? setOwn}
        {...pagingProps(list)}
        empty={
          <p className="muted empty-line" data-testid="releases-empty">
            {t('catalog.releases.empty')}
          </p>
        }
        toolbar={toolbar}
        rowTestId={(r) => `release-row-${r.name}-${r.service_map.cluster.name}`}
        testId="releases-table"
      />
    </>
  );
}

export function ReleasesPage() {
  const { t } = useTranslation();
  const { params, set } = useUrlFilters();
  const q = params.get('q') ?? '';
  const workspace = Number(params.get('workspace')) || undefined;
  const status = (STATUSES as readonly string[]).includes(params.get('status') ?? '') ? (params.get('status') as string) : '';
  const ordering = validOrdering(params.get('ordering'), SORT_KEYS);
  const workspaces = useWorkspaces({});
  const query = useMemo(() => ({ ...(q ? { q } : {}), ...(workspace ? { workspace } : {}), ...(status ? { status } : {}) }) as ReleaseQuery, [q, workspace, status]);
  return (
    <section className="page page-wide" data-testid="releases-page">
      <header className="page-header">
        <h1>{t('catalog.releases.title')}</h1>
        <p className="muted">{t('catalog.releases.intro')}</p>
      </header>
      <section className="card">
        <ReleasesTable
          query={query}
          ordering={ordering}
          onOrderingChange={(o) => set('ordering', o ?? '')}
          toolbar={
            <div className="filters" data-testid="releases-filters">
              <SearchInput name="q" label={t('catalog.search')} value={q} onCommit={(v) => set('q', v)} />
              <FormField label={t('catalog.deploy.workspace')}>
                <select name="workspace" value={workspace ? String(workspace) : ''} onChange={(e) => set('workspace', e.target.value)}>
                  <option value="">{t('catalog.scope.all')}</option>
                  {(workspaces.data?.results ?? []).map((w) => (
                    <option key={w.id} value={String(w.id)}>
                      {w.display_name || w.name}
                    </option>
                  ))}
                </select>
              </FormField>
              <FormField label={t('catalog.col.status')}>
                <select name="status" data-testid="releases-status" value={status} onChange={(e) => set('status', e.target.value)}>
                  <option value="">{t('catalog.scope.all')}</option>
                  {STATUSES.map((s) => (
                    <option key={s} value={s}>
                      {t(`catalog.state.${s}` as 'catalog.state.pending', { defaultValue: s })}
                    </option>
                  ))}
                </select>
              </FormField>
            </div>
          }
        />
      </section>
    </section>
  );
}
