/**
 * Release lists: the global /releases page (filters `q`, `workspace` in the URL) and the
 * "Releases" tab of a service map. Rows stay live from each listed workspace's group.
 */
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { messageText } from '../lib/messages';
import { relativeTime, useNow } from '../clusters/format';
import { DebouncedInput } from '../clusters/tabs/SimpleTabs';
import { useWorkspaces } from '../workspaces/queries';
import { CatalogBadge } from './common';
import { CatalogLive } from './live';
import { useReleases } from './queries';
import type { ReleaseQuery } from './types';

export function ReleasesTable({ query, showServiceMap = true }: { query: ReleaseQuery; showServiceMap?: boolean }) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  const releases = useReleases(query);
  const rows = releases.data?.results ?? [];
  const workspaceIds = [...new Set(rows.map((r) => r.workspace.id))];
  return (
    <>
      {workspaceIds.map((w) => (
        <CatalogLive key={w} id={w} />
      ))}
      {releases.isPending && <Loading />}
      {releases.isError && <ErrorState error={releases.error} onRetry={() => void releases.refetch()} />}
      {releases.data && rows.length === 0 && (
        <p className="muted empty-line" data-testid="releases-empty">
          {t('catalog.releases.empty')}
        </p>
      )}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="table table-dense" data-testid="releases-table">
            <thead>
              <tr>
                <th scope="col">{t('catalog.col.name')}</th>
                <th scope="col">{t('catalog.col.package')}</th>
                {showServiceMap && <th scope="col">{t('catalog.col.target')}</th>}
                <th scope="col">{t('catalog.col.status')}</th>
                <th scope="col" className="num">{t('catalog.col.revision')}</th>
                <th scope="col">{t('catalog.col.updated')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-testid={`release-row-${r.name}-${r.service_map.cluster.name}`} data-status={r.status}>
                  <td>
                    <Link to={`/releases/${r.id}`} className="mono" data-testid="release-link">
                      {r.name}
                    </Link>
                  </td>
                  <td>
                    <Link to={`/catalog/packages/${r.package.id}`}>{r.package.name}</Link> <span className="mono small">{r.version.version}</span>
                  </td>
                  {showServiceMap && (
                    <td className="small">
                      <Link to={`/workspaces/${r.workspace.id}/servicemaps/${r.service_map.id}`}>
                        {r.service_map.cluster.name} / <span className="mono">{r.service_map.namespace}</span>
                      </Link>
                      <div className="muted">{r.workspace.name}</div>
                    </td>
                  )}
                  <td>
                    <CatalogBadge state={r.status} title={messageText(t, r)} testId="release-status" />
                  </td>
                  <td className="num">
                    {r.deployed_revision}/{r.revision}
                  </td>
                  <td className="small nowrap">{relativeTime(r.updated, now, i18n.language)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function ReleasesPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const workspace = Number(params.get('workspace')) || undefined;
  const workspaces = useWorkspaces({});
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: true });
  };
  return (
    <section className="page page-wide" data-testid="releases-page">
      <header className="page-header">
        <h1>{t('catalog.releases.title')}</h1>
        <p className="muted">{t('catalog.releases.intro')}</p>
      </header>
      <div className="filters" data-testid="releases-filters">
        <DebouncedInput name="q" label={t('catalog.search')} value={q} onCommit={(v) => set('q', v)} />
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
      </div>
      <section className="card">
        <ReleasesTable query={{ ...(q ? { q } : {}), ...(workspace ? { workspace } : {}) }} />
      </section>
    </section>
  );
}
