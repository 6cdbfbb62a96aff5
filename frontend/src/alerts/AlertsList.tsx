/**
 * /alerts — alerts on the console's DataTable, newest first or sorted by the server by severity
 * (critical first) or start; filtered by state (default: open = pending, firing or
 * acknowledged), severity, cluster (those who see the infrastructure) and workspace; the filters
 * and the sort live in the URL; keyset pages load as the list scrolls. Kept live from `alerts` /
 * `workspace.<id>` (AlertsLive patches and refetches these lists: they share `listKey`).
 */
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { FormField } from '../components/FormField';
import { DataTable, useKeysetList, type ColumnDef, pagingProps } from '../components/table';
import { relativeTime, useNow } from '../clusters/format';
import { useClusters } from '../clusters/queries';
import { messageText } from '../lib/messages';
import { fetchKeysetPage, useUrlFilters, validOrdering } from '../lists/keyset';
import { useWorkspaces } from '../workspaces/queries';
import { AlertsTabs, SeverityBadge, StateBadge } from './common';
import { listKey, useSeesInfrastructure } from './queries';
import { ALERT_STATES, SEVERITIES, refName, type Alert, type AlertQuery } from './types';

const TABLE = 'alerts';
const SORT_KEYS = ['severity', 'started', 'updated'] as const;

export function ruleName(alert: Pick<Alert, 'rule' | 'rule_name'>): string {
  if (alert.rule_name) return alert.rule_name;
  if (alert.rule && typeof alert.rule === 'object') return alert.rule.name;
  return '';
}

export function subjectText(alert: Pick<Alert, 'subject_kind' | 'subject_name' | 'namespace'>): string {
  const what = [alert.subject_kind, alert.subject_name].filter(Boolean).join('/');
  return alert.namespace ? `${alert.namespace} · ${what}` : what;
}

function useAlertColumns(): ColumnDef<Alert>[] {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  return useMemo(
    () => [
      {
        id: 'severity',
        meta: { label: t('alerts.col.severity'), sortKey: 'severity', priority: 1 },
        cell: ({ row: { original: a } }) => <SeverityBadge severity={a.severity} />,
      },
      {
        id: 'state',
        meta: { label: t('alerts.col.state'), priority: 1 },
        cell: ({ row: { original: a } }) => <StateBadge state={a.state} />,
      },
      {
        id: 'alert',
        meta: { label: t('alerts.col.alert'), priority: 1 },
        cell: ({ row: { original: a } }) => (
          <>
            <Link to={`/alerts/${a.id}`} data-testid="alert-link">
              {ruleName(a) || t('alerts.list.unnamed', { id: a.id })}
            </Link>
            <div className="small muted wrap-any">{messageText(t, a)}</div>
          </>
        ),
      },
      {
        id: 'subject',
        meta: { label: t('alerts.col.subject'), priority: 2, className: 'mono small wrap-any' },
        cell: ({ row: { original: a } }) => subjectText(a) || '—',
      },
      {
        id: 'place',
        meta: { label: t('alerts.col.place'), priority: 3, className: 'small' },
        cell: ({ row: { original: a } }) => [refName(a.cluster), refName(a.workspace)].filter(Boolean).join(' · ') || '—',
      },
      {
        id: 'started',
        meta: { label: t('alerts.col.started'), sortKey: 'started', priority: 2, className: 'small nowrap' },
        cell: ({ row: { original: a } }) => <span title={a.started_at}>{relativeTime(a.started_at, now, i18n.language) ?? '—'}</span>,
      },
    ],
    [t, i18n.language, now],
  );
}

export function AlertsPage() {
  const { t } = useTranslation();
  const { params, set: setParam } = useUrlFilters();
  const infra = useSeesInfrastructure();
  const state = params.get('state') ?? 'open';
  const severity = params.get('severity') ?? '';
  const cluster = Number(params.get('cluster')) || undefined;
  const workspace = Number(params.get('workspace')) || undefined;
  const ordering = validOrdering(params.get('ordering'), SORT_KEYS);
  const query: AlertQuery & { ordering?: string } = {
    ...(state === 'open' ? { open: true } : state && state !== 'all' ? { state } : {}),
    ...(severity ? { severity } : {}),
    ...(cluster ? { cluster } : {}),
    ...(workspace ? { workspace } : {}),
    ...(ordering ? { ordering } : {}),
  };
  // listKey: AlertsLive patches the rows of these pages and refetches them on `alert.updated`.
  const list = useKeysetList<Alert>({
    queryKey: listKey(query),
    fetchPage: (cursor) => fetchKeysetPage<Alert>('/api/monitoring/alerts/', { ...query }, cursor),
  });
  const columns = useAlertColumns();
  const workspaces = useWorkspaces({});
  const clusters = useClusters({}, { enabled: infra });
  return (
    <section className="page page-wide" data-testid="alerts-page">
      <header className="page-header">
        <h1>{t('alerts.title')}</h1>
        <p className="muted">{t('alerts.list.intro')}</p>
      </header>
      <AlertsTabs />
      <section className="card">
        <DataTable<Alert>
          tableKey={TABLE}
          label={t('alerts.title')}
          columns={columns}
          rows={list.rows}
          getRowId={(a) => String(a.id)}
          ordering={ordering}
          onOrderingChange={(o) => setParam('ordering', o ?? '')}
          {...pagingProps(list)}
          empty={
            <EmptyState title={state === 'open' ? t('alerts.list.noneOpen') : t('alerts.list.none')} testId="alerts-empty">
              <p>{t('alerts.list.emptyHint')}</p>
            </EmptyState>
          }
          rowTestId={(a) => `alert-row-${a.id}`}
          testId="alerts-table"
          toolbar={
            <div className="filters" data-testid="alerts-filters">
              <FormField label={t('alerts.filter.state')}>
                <select name="state" value={state} onChange={(e) => setParam('state', e.target.value === 'open' ? '' : e.target.value)} data-testid="filter-state">
                  <option value="open">{t('alerts.filter.open')}</option>
                  <option value="all">{t('alerts.filter.all')}</option>
                  {ALERT_STATES.map((s) => (
                    <option key={s} value={s}>
                      {t(`alerts.state.${s}`)}
                    </option>
                  ))}
                </select>
              </FormField>
              <FormField label={t('alerts.filter.severity')}>
                <select name="severity" value={severity} onChange={(e) => setParam('severity', e.target.value)} data-testid="filter-severity">
                  <option value="">{t('alerts.filter.any')}</option>
                  {SEVERITIES.map((s) => (
                    <option key={s} value={s}>
                      {t(`alerts.severity.${s}`)}
                    </option>
                  ))}
                </select>
              </FormField>
              {infra && (
                <FormField label={t('alerts.filter.cluster')}>
                  <select name="cluster" value={cluster ? String(cluster) : ''} onChange={(e) => setParam('cluster', e.target.value)} data-testid="filter-cluster">
                    <option value="">{t('alerts.filter.any')}</option>
                    {(clusters.data?.results ?? []).map((c) => (
                      <option key={c.id} value={String(c.id)}>
                        {c.name}
                      </option>
                    ))}
                  </select>
                </FormField>
              )}
              <FormField label={t('alerts.filter.workspace')}>
                <select name="workspace" value={workspace ? String(workspace) : ''} onChange={(e) => setParam('workspace', e.target.value)} data-testid="filter-workspace">
                  <option value="">{t('alerts.filter.any')}</option>
                  {(workspaces.data?.results ?? []).map((w) => (
                    <option key={w.id} value={String(w.id)}>
                      {w.display_name || w.name}
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
