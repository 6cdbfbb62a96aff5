/**
 * /builds — the build definitions with Cocktail's columns: build name, image name, steps
 * done/total, status (`DONE`, `RUNNING`, `ERROR 4/6`, `CANCELLED`, `QUEUED`), last build time and
 * image size, from each definition's last run. A name search and a workspace filter (`?q=`,
 * `?workspace=` in the URL);
 * "New build" for those who hold `builds.run` somewhere; a Run button per row (the row's
 * `permissions.run`). Rows stay live from each listed workspace's `workspace.<id>` group.
 */
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { bytesHuman, relativeTime, useNow } from '../clusters/format';
import { useMe } from '../auth/queries';
import { DebouncedInput } from '../clusters/tabs/SimpleTabs';
import { apiErrorText } from '../lib/messages';
import { useWorkspaces } from '../workspaces/queries';
import { BUILDS_RUN } from './access';
import { RunStatusBadge } from './common';
import { BuildsLive } from './live';
import { useDefinitions, useRunDefinition } from './queries';
import type { BuildDefinition } from './types';

function RunButton({ definition }: { definition: BuildDefinition }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const run = useRunDefinition();
  return (
    <>
      <button
        type="button"
        className="btn btn-small btn-primary"
        data-testid={`run-${definition.name}`}
        disabled={run.isPending}
        onClick={() => run.mutate({ id: definition.id }, { onSuccess: (row) => navigate(`/builds/runs/${row.id}`) })}
      >
        {run.isPending ? t('builds.list.starting') : t('builds.list.run')}
      </button>
      {run.error && (
        <div className="small bad-text" role="alert" data-testid={`run-error-${definition.name}`}>
          {apiErrorText(t, run.error)}
        </div>
      )}
    </>
  );
}

export function DefinitionsTable({ rows }: { rows: BuildDefinition[] }) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="builds-table">
        <thead>
          <tr>
            <th scope="col">{t('builds.col.name')}</th>
            <th scope="col">{t('builds.col.image')}</th>
            <th scope="col" className="num">{t('builds.col.steps')}</th>
            <th scope="col">{t('builds.col.status')}</th>
            <th scope="col">{t('builds.col.lastBuild')}</th>
            <th scope="col" className="num">{t('builds.col.size')}</th>
            <th scope="col" className="actions-col">
              <span className="visually-hidden">{t('builds.col.actions')}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => {
            const last = d.last_run;
            const when = last ? (last.finished ?? last.started ?? last.created) : null;
            return (
              <tr key={d.id} data-testid={`build-row-${d.name}`} data-status={last?.status ?? 'none'}>
                <td>
                  <Link to={`/builds/definitions/${d.id}`} className="mono" data-testid="build-link">
                    {d.name}
                  </Link>
                  <div className="small muted">{d.workspace.name}</div>
                </td>
                <td className="mono small wrap-any" data-testid="build-image">
                  {d.image}
                </td>
                <td className="num" data-testid="build-steps">
                  {last ? `${last.steps_done}/${last.steps_total}` : '—'}
                </td>
                <td>
                  {last ? (
                    <Link to={`/builds/runs/${last.id}`} data-testid="build-last-run">
                      <RunStatusBadge run={last} testId="build-status" />
                    </Link>
                  ) : (
                    <span className="muted small" data-testid="build-status">
                      {t('builds.list.never')}
                    </span>
                  )}
                </td>
                <td className="small nowrap" title={when ?? undefined} data-testid="build-time">
                  {when ? relativeTime(when, now, i18n.language) : '—'}
                </td>
                <td className="num small nowrap" data-testid="build-size">
                  {last?.image_size ? bytesHuman(last.image_size) : '—'}
                </td>
                <td className="actions-col">{d.permissions.run && <RunButton definition={d} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function BuildsPage() {
  const { t } = useTranslation();
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const workspace = Number(params.get('workspace')) || undefined;
  const q = params.get('q') ?? '';
  const workspaces = useWorkspaces({});
  const wsRows = workspaces.data?.results ?? [];
  const definitions = useDefinitions({ ...(workspace ? { workspace } : {}), ...(q ? { q } : {}) });
  const rows = definitions.data ?? [];
  const runnable = wsRows.filter((w) => me.data?.is_admin === true || (w.my_grants ?? []).includes(BUILDS_RUN));
  const mayCreate = workspace ? runnable.some((w) => w.id === workspace) : runnable.length > 0;
  // the groups of the workspaces the list shows (an admin may see hundreds of workspaces)
  const liveIds = workspace ? [workspace] : [...new Set(rows.map((d) => d.workspace.id))];
  const newLink = `/builds/new${workspace ? `?workspace=${workspace}` : ''}`;
  const setParam = (key: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(key, v);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  return (
    <section className="page page-wide" data-testid="builds-page">
      {liveIds.map((id) => (
        <BuildsLive key={id} id={id} />
      ))}
      <header className="page-header page-header-row">
        <div>
          <h1>{t('builds.title')}</h1>
          <p className="muted">{t('builds.list.intro')}</p>
        </div>
        {mayCreate && (
          <Link to={newLink} className="btn btn-primary" data-testid="new-build">
            {t('builds.list.new')}
          </Link>
        )}
      </header>
      <div className="filters" data-testid="builds-filters">
        <DebouncedInput name="q" label={t('builds.list.search')} value={q} onCommit={(v) => setParam('q', v)} />
        <FormField label={t('builds.field.workspace')}>
          <select name="workspace" data-testid="builds-workspace" value={workspace ? String(workspace) : ''} onChange={(e) => setParam('workspace', e.target.value)}>
            <option value="">{t('builds.list.allWorkspaces')}</option>
            {wsRows.map((w) => (
              <option key={w.id} value={String(w.id)}>
                {w.display_name || w.name}
              </option>
            ))}
          </select>
        </FormField>
      </div>
      <section className="card">
        {definitions.isPending && <Loading />}
        {definitions.isError && <ErrorState error={definitions.error} onRetry={() => void definitions.refetch()} />}
        {definitions.data && rows.length === 0 && q && (
          <p className="muted empty-line" data-testid="builds-no-match">
            {t('builds.list.noMatch', { q })}
          </p>
        )}
        {definitions.data && rows.length === 0 && !q && (
          <EmptyState title={t('builds.list.emptyTitle')} testId="builds-empty">
            <p>{mayCreate ? t('builds.list.emptyCreate') : t('builds.list.emptyAsk')}</p>
            {mayCreate && (
              <Link to={newLink} className="btn btn-primary">
                {t('builds.list.new')}
              </Link>
            )}
          </EmptyState>
        )}
        {rows.length > 0 && <DefinitionsTable rows={rows} />}
      </section>
    </section>
  );
}
