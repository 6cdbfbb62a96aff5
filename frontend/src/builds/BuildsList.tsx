/**
 * /builds — the build definitions with Cocktail's columns: build name, image name, steps
 * done/total, status (`DONE`, `RUNNING`, `ERROR 4/6`, `CANCELLED`, `QUEUED`), last build time and
 * image size, from each definition's last run, on the console's DataTable: sorting by name or last
 * change, the name search and the workspace filter ask the server (`?q=`, `?workspace=`,
 * `?ordering=` in the URL) and pages come by keyset as the list scrolls.
 * "New build" for those who hold `builds.run` somewhere; a Run button per row (the row's
 * `permissions.run`). Rows stay live from each listed workspace's `workspace.<id>` group
 * (`buildrun.updated` becomes the `last_run` of its definition).
 */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { FormField } from '../components/FormField';
import { DataTable, useKeysetList, type ColumnDef, pagingProps } from '../components/table';
import { bytesHuman, relativeTime, useNow } from '../clusters/format';
import { useMe } from '../auth/queries';
import { apiErrorText } from '../lib/messages';
import type { SocketEvent } from '../lib/socket';
import { fetchKeysetPage, keysetKey, patchKeysetRows, useRefetchCachedOnMount, useUrlFilters, validOrdering } from '../lists/keyset';
import { ListLive } from '../lists/ListLive';
import { SearchInput } from '../lists/SearchInput';
import { useWorkspaces } from '../workspaces/queries';
import { BUILDS_RUN } from './access';
import { RunStatusBadge } from './common';
import { isRunRow } from './live';
import { useRunDefinition } from './queries';
import type { BuildDefinition } from './types';

const TABLE = 'builds';
const SORT_KEYS = ['name', 'updated'] as const;
/** The newest run's status (`never`: not built yet), as `GET /api/builds/definitions/?status=` takes it. */
const STATUSES = ['running', 'queued', 'succeeded', 'failed', 'cancelled', 'never'] as const;

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

const whenOf = (d: BuildDefinition) => (d.last_run ? (d.last_run.finished ?? d.last_run.started ?? d.last_run.created) : null);

function useDefinitionColumns(): ColumnDef<BuildDefinition>[] {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  return useMemo(
    () => [
      {
        id: 'name',
        meta: { label: t('builds.col.name'), sortKey: 'name', priority: 1 },
        cell: ({ row: { original: d } }) => (
          <>
            <Link to={`/builds/definitions/${d.id}`} className="mono" data-testid="build-link">
              {d.name}
            </Link>
            <div className="small muted">{d.workspace.name}</div>
          </>
        ),
      },
      {
        id: 'image',
        meta: { label: t('builds.col.image'), priority: 2, className: 'mono small wrap-any', cellTestId: 'build-image' },
        cell: ({ row: { original: d } }) => d.image,
      },
      {
        id: 'steps',
        meta: { label: t('builds.col.steps'), align: 'end', priority: 3, cellTestId: 'build-steps' },
        cell: ({ row: { original: d } }) => (d.last_run ? `${d.last_run.steps_done}/${d.last_run.steps_total}` : '—'),
      },
      {
        id: 'status',
        meta: { label: t('builds.col.status'), priority: 1 },
        cell: ({ row: { original: d } }) =>
          d.last_run ? (
            <Link to={`/builds/runs/${d.last_run.id}`} data-testid="build-last-run" data-status={d.last_run.status}>
              <RunStatusBadge run={d.last_run} testId="build-status" />
            </Link>
          ) : (
            <span className="muted small" data-testid="build-status" data-status="none">
              {t('builds.list.never')}
            </span>
          ),
      },
      {
        id: 'lastBuild',
        meta: { label: t('builds.col.lastBuild'), priority: 2, className: 'small nowrap', cellTestId: 'build-time' },
        cell: ({ row: { original: d } }) => {
          const when = whenOf(d);
          return when ? <span title={when}>{relativeTime(when, now, i18n.language)}</span> : '—';
        },
      },
      {
        id: 'size',
        meta: { label: t('builds.col.size'), align: 'end', priority: 3, className: 'small nowrap', cellTestId: 'build-size' },
        cell: ({ row: { original: d } }) => (d.last_run?.image_size ? bytesHuman(d.last_run.image_size) : '—'),
      },
      {
        id: 'updated',
        meta: { label: t('lists.col.changed'), sortKey: 'updated', priority: 3, defaultHidden: true, className: 'small nowrap' },
        cell: ({ row: { original: d } }) => <span title={d.updated}>{relativeTime(d.updated, now, i18n.language)}</span>,
      },
      {
        id: 'actions',
        meta: { label: t('builds.col.actions'), priority: 1, className: 'actions-col' },
        cell: ({ row: { original: d } }) => (d.permissions.run ? <RunButton definition={d} /> : null),
      },
    ],
    [t, i18n.language, now],
  );
}

export function BuildsPage() {
  const { t } = useTranslation();
  const me = useMe();
  const queryClient = useQueryClient();
  const { params, set: setParam } = useUrlFilters();
  const workspace = Number(params.get('workspace')) || undefined;
  const q = params.get('q') ?? '';
  const status = (STATUSES as readonly string[]).includes(params.get('status') ?? '') ? (params.get('status') as string) : '';
  const ordering = validOrdering(params.get('ordering'), SORT_KEYS);
  const workspaces = useWorkspaces({});
  const wsRows = workspaces.data?.results ?? [];
  const query = useMemo(
    () => ({ ...(workspace ? { workspace } : {}), ...(q ? { q } : {}), ...(status ? { status } : {}), ...(ordering ? { ordering } : {}) }),
    [workspace, q, status, ordering],
  );
  const list = useKeysetList<BuildDefinition>({
    queryKey: keysetKey(TABLE, query),
    fetchPage: (cursor) => fetchKeysetPage<BuildDefinition>('/api/builds/definitions/', query, cursor),
  });
  useRefetchCachedOnMount(keysetKey(TABLE, query));
  const rows = list.rows;
  const columns = useDefinitionColumns();
  const runnable = wsRows.filter((w) => me.data?.is_admin === true || (w.my_grants ?? []).includes(BUILDS_RUN));
  const mayCreate = workspace ? runnable.some((w) => w.id === workspace) : runnable.length > 0;
  // the groups of the workspaces the list shows (an admin may see hundreds of workspaces)
  const liveIds = workspace ? [workspace] : [...new Set(rows.map((d) => d.workspace.id))];
  const newLink = `/builds/new${workspace ? `?workspace=${workspace}` : ''}`;
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type !== 'buildrun.updated' || !isRunRow(event.data)) return;
      const run = event.data;
      const found = patchKeysetRows<BuildDefinition>(
        queryClient,
        keysetKey(TABLE),
        (d) => d.id === run.definition.id,
        (d) => (d.last_run && d.last_run.id > run.id ? d : { ...d, last_run: { ...(d.last_run?.id === run.id ? d.last_run : {}), ...run } }),
      );
      if (!found) void queryClient.invalidateQueries({ queryKey: keysetKey(TABLE) });
    },
    [queryClient],
  );
  const empty = q || status ? (
    <p className="muted empty-line" data-testid="builds-no-match">
      {q ? t('builds.list.noMatch', { q }) : t('lists.noMatch')}
    </p>
  ) : (
    <EmptyState title={t('builds.list.emptyTitle')} testId="builds-empty">
      <p>{mayCreate ? t('builds.list.emptyCreate') : t('builds.list.emptyAsk')}</p>
      {mayCreate && (
        <Link to={newLink} className="btn btn-primary">
          {t('builds.list.new')}
        </Link>
      )}
    </EmptyState>
  );
  return (
    <section className="page page-wide" data-testid="builds-page">
      <ListLive groups={liveIds.map((id) => `workspace.${id}`)} onEvent={onEvent} queryKey={keysetKey(TABLE)} />
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
      <section className="card">
        <DataTable<BuildDefinition>
          tableKey={TABLE}
          label={t('builds.title')}
          columns={columns}
          rows={rows}
          getRowId={(d) => String(d.id)}
          ordering={ordering}
          onOrderingChange={(o) => setParam('ordering', o ?? '')}
          {...pagingProps(list)}
          empty={empty}
          rowTestId={(d) => `build-row-${d.name}`}
          testId="builds-table"
          toolbar={
            <div className="filters" data-testid="builds-filters">
              <SearchInput name="q" label={t('builds.list.search')} value={q} maxLength={63} onCommit={(v) => setParam('q', v)} />
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
              <FormField label={t('builds.col.status')}>
                <select name="status" data-testid="builds-status" value={status} onChange={(e) => setParam('status', e.target.value)}>
                  <option value="">{t('lists.any')}</option>
                  {STATUSES.map((s) => (
                    <option key={s} value={s}>
                      {t(`lists.runStatus.${s}`)}
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
