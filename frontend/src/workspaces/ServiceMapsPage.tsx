/**
 * /servicemaps: every service map the user may see on the console's DataTable, filtered by
 * workspace, cluster and name and sorted by the server (all in the URL), in keyset pages. Rows
 * stay live from the `workspace.<id>` group of each workspace shown.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { useKeysetList, pagingProps } from '../components/table';
import type { SocketEvent } from '../lib/socket';
import { fetchKeysetPage, keysetKey, patchKeysetRows, useRefetchCachedOnMount, useUrlFilters, validOrdering } from '../lists/keyset';
import { hasId, ListLive } from '../lists/ListLive';
import { SearchInput } from '../lists/SearchInput';
import { useWorkspaces } from './queries';
import { SERVICE_MAP_SORT_KEYS, ServiceMapTable } from './ServiceMapTable';
import type { ServiceMap, ServiceMapListQuery } from './types';

const TABLE = 'servicemaps';

export function ServiceMapsPage() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const { params, set } = useUrlFilters();
  const filters = { workspace: params.get('workspace') ?? '', cluster: params.get('cluster') ?? '', q: params.get('q') ?? '' };
  const ordering = validOrdering(params.get('ordering'), SERVICE_MAP_SORT_KEYS);
  const query = useMemo(() => {
    const out: Omit<ServiceMapListQuery, 'ordering'> & { ordering?: string } = {};
    if (Number(filters.workspace) > 0) out.workspace = Number(filters.workspace);
    if (Number(filters.cluster) > 0) out.cluster = Number(filters.cluster);
    if (filters.q) out.q = filters.q;
    if (ordering) out.ordering = ordering;
    return out;
  }, [filters.workspace, filters.cluster, filters.q, ordering]);
  const list = useKeysetList<ServiceMap>({
    queryKey: keysetKey(TABLE, query),
    fetchPage: (cursor) => fetchKeysetPage<ServiceMap>('/api/workspaces/servicemaps/', { ...query }, cursor),
  });
  useRefetchCachedOnMount(keysetKey(TABLE, query));
  const workspaces = useWorkspaces();
  const rows = list.rows;
  const clusters = new Map(rows.map((sm) => [sm.cluster.id, sm.cluster]));
  const workspaceIds = query.workspace ? [query.workspace] : [...new Set(rows.map((sm) => sm.workspace.id))];
  const onEvent = useCallback(
    (event: SocketEvent) => {
      const data = event.data;
      if (event.type === 'servicemap.updated' && hasId(data) && typeof data.namespace === 'string') {
        const found = patchKeysetRows<ServiceMap>(queryClient, keysetKey(TABLE), (sm) => sm.id === data.id, (sm) => ({ ...sm, ...(data as Partial<ServiceMap>) }));
        if (!found) void queryClient.invalidateQueries({ queryKey: keysetKey(TABLE) });
      } else if (event.type === 'servicemap.deleted' && hasId(data)) {
        patchKeysetRows<ServiceMap>(queryClient, keysetKey(TABLE), (sm) => sm.id === data.id, () => null);
      }
    },
    [queryClient],
  );
  return (
    <section className="page page-wide" data-testid="servicemaps-page">
      <header className="page-header">
        <h1>{t('nav.servicemaps')}</h1>
        <p className="muted">{t('workspaces.servicemap.intro')}</p>
      </header>
      <section className="card">
        <ServiceMapTable
          rows={rows}
          showWorkspace
          ordering={ordering}
          onOrderingChange={(o) => set('ordering', o ?? '')}
          {...pagingProps(list)}
          empty={
            <p className="muted empty-line" data-testid="servicemaps-empty">
              {t('workspaces.servicemap.emptyAll')}
            </p>
          }
          toolbar={
            <div className="filters" data-testid="servicemaps-filters">
              <label className="field">
                <span>{t('workspaces.servicemap.workspace')}</span>
                <select name="workspace" value={filters.workspace} onChange={(e) => set('workspace', e.target.value)}>
                  <option value="">{t('clusters.filter.any')}</option>
                  {(workspaces.data?.results ?? []).map((w) => (
                    <option key={w.id} value={w.id}>
                      {w.display_name || w.name}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field">
                <span>{t('workspaces.field.cluster')}</span>
                <select name="cluster" value={filters.cluster} onChange={(e) => set('cluster', e.target.value)}>
                  <option value="">{t('clusters.filter.any')}</option>
                  {filters.cluster && !clusters.has(Number(filters.cluster)) && <option value={filters.cluster}>{filters.cluster}</option>}
                  {[...clusters.values()].map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.display_name || c.name}
                    </option>
                  ))}
                </select>
              </label>
              <SearchInput name="q" label={t('clusters.filter.search')} value={filters.q} onCommit={(v) => set('q', v)} />
            </div>
          }
        />
      </section>
      <ListLive groups={workspaceIds.map((id) => `workspace.${id}`)} onEvent={onEvent} queryKey={keysetKey(TABLE)} />
    </section>
  );
}
