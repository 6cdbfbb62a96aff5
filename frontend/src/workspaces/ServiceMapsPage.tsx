/** /servicemaps: every service map the user may see, filtered by workspace and cluster (in the URL). */
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router-dom';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { DebouncedInput } from '../clusters/tabs/SimpleTabs';
import { WorkspaceLive } from './live';
import { useAllServiceMaps, useWorkspaces } from './queries';
import { ServiceMapTable } from './ServiceMapTable';
import type { ServiceMapListQuery } from './types';

export function ServiceMapsPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const filters = { workspace: params.get('workspace') ?? '', cluster: params.get('cluster') ?? '', q: params.get('q') ?? '' };
  const query: ServiceMapListQuery = {};
  if (Number(filters.workspace) > 0) query.workspace = Number(filters.workspace);
  if (Number(filters.cluster) > 0) query.cluster = Number(filters.cluster);
  if (filters.q) query.q = filters.q;
  const maps = useAllServiceMaps(query);
  const workspaces = useWorkspaces();
  const rows = maps.data?.results ?? [];
  const clusters = new Map(rows.map((sm) => [sm.cluster.id, sm.cluster]));
  const set = (key: keyof typeof filters, value: string) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );
  const workspaceIds = [...new Set(rows.map((sm) => sm.workspace.id))];
  return (
    <section className="page page-wide" data-testid="servicemaps-page">
      <header className="page-header">
        <h1>{t('nav.servicemaps')}</h1>
        <p className="muted">{t('workspaces.servicemap.intro')}</p>
      </header>
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
        <DebouncedInput name="q" label={t('clusters.filter.search')} value={filters.q} onCommit={(v) => set('q', v)} />
      </div>
      <section className="card">
        {maps.isPending && <Loading />}
        {maps.isError && <ErrorState error={maps.error} onRetry={() => void maps.refetch()} />}
        {maps.data && rows.length === 0 && (
          <p className="muted empty-line" data-testid="servicemaps-empty">
            {t('workspaces.servicemap.emptyAll')}
          </p>
        )}
        {rows.length > 0 && <ServiceMapTable rows={rows} showWorkspace />}
      </section>
      {workspaceIds.map((id) => (
        <WorkspaceLive key={id} id={id} />
      ))}
    </section>
  );
}
