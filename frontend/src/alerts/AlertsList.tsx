/**
 * /alerts — alerts, newest first, filtered by state (default: open = pending, firing or
 * acknowledged), severity, cluster (those who see the infrastructure) and workspace; the filters
 * live in the URL. Kept live from `alerts` / `workspace.<id>` (AlertsLive).
 */
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { relativeTime, useNow } from '../clusters/format';
import { useClusters } from '../clusters/queries';
import { messageText } from '../lib/messages';
import { useWorkspaces } from '../workspaces/queries';
import { AlertsTabs, SeverityBadge, StateBadge } from './common';
import { useAlerts, useSeesInfrastructure } from './queries';
import { ALERT_STATES, SEVERITIES, refName, type Alert, type AlertQuery } from './types';

export function ruleName(alert: Pick<Alert, 'rule' | 'rule_name'>): string {
  if (alert.rule_name) return alert.rule_name;
  if (alert.rule && typeof alert.rule === 'object') return alert.rule.name;
  return '';
}

export function subjectText(alert: Pick<Alert, 'subject_kind' | 'subject_name' | 'namespace'>): string {
  const what = [alert.subject_kind, alert.subject_name].filter(Boolean).join('/');
  return alert.namespace ? `${alert.namespace} · ${what}` : what;
}

export function AlertsTable({ rows }: { rows: Alert[] }) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="alerts-table">
        <thead>
          <tr>
            <th scope="col">{t('alerts.col.severity')}</th>
            <th scope="col">{t('alerts.col.state')}</th>
            <th scope="col">{t('alerts.col.alert')}</th>
            <th scope="col">{t('alerts.col.subject')}</th>
            <th scope="col">{t('alerts.col.place')}</th>
            <th scope="col">{t('alerts.col.started')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((a) => (
            <tr key={a.id} data-testid={`alert-row-${a.id}`} data-state={a.state}>
              <td>
                <SeverityBadge severity={a.severity} />
              </td>
              <td>
                <StateBadge state={a.state} />
              </td>
              <td>
                <Link to={`/alerts/${a.id}`} data-testid="alert-link">
                  {ruleName(a) || t('alerts.list.unnamed', { id: a.id })}
                </Link>
                <div className="small muted wrap-any">{messageText(t, a)}</div>
              </td>
              <td className="mono small wrap-any">{subjectText(a) || '—'}</td>
              <td className="small">
                {[refName(a.cluster), refName(a.workspace)].filter(Boolean).join(' · ') || '—'}
              </td>
              <td className="small nowrap" title={a.started_at}>
                {relativeTime(a.started_at, now, i18n.language) ?? '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AlertsPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const infra = useSeesInfrastructure();
  const state = params.get('state') ?? 'open';
  const severity = params.get('severity') ?? '';
  const cluster = Number(params.get('cluster')) || undefined;
  const workspace = Number(params.get('workspace')) || undefined;
  const query: AlertQuery = {
    ...(state === 'open' ? { open: true } : state && state !== 'all' ? { state } : {}),
    ...(severity ? { severity } : {}),
    ...(cluster ? { cluster } : {}),
    ...(workspace ? { workspace } : {}),
  };
  const alerts = useAlerts(query);
  const workspaces = useWorkspaces({});
  const clusters = useClusters({}, { enabled: infra });
  const rows = alerts.data?.pages.flatMap((p) => p.results) ?? [];
  const setParam = (key: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(key, v);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  return (
    <section className="page page-wide" data-testid="alerts-page">
      <header className="page-header">
        <h1>{t('alerts.title')}</h1>
        <p className="muted">{t('alerts.list.intro')}</p>
      </header>
      <AlertsTabs />
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
      <section className="card">
        {alerts.isPending && <Loading />}
        {alerts.isError && <ErrorState error={alerts.error} onRetry={() => void alerts.refetch()} />}
        {alerts.data && rows.length === 0 && (
          <EmptyState title={state === 'open' ? t('alerts.list.noneOpen') : t('alerts.list.none')} testId="alerts-empty">
            <p>{t('alerts.list.emptyHint')}</p>
          </EmptyState>
        )}
        {rows.length > 0 && <AlertsTable rows={rows} />}
        {alerts.hasNextPage && (
          <button type="button" className="btn" disabled={alerts.isFetchingNextPage} onClick={() => void alerts.fetchNextPage()} data-testid="alerts-more">
            {t('alerts.list.more')}
          </button>
        )}
      </section>
    </section>
  );
}
