/**
 * /monitoring/events — cluster events kept by the portal (past the cluster's own TTL), newest first,
 * filtered by cluster, namespace, type, reason and object (all in the URL); warnings highlighted;
 * keyset pages appended by "Load more".
 */
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { relativeTime, useNow } from '../clusters/format';
import { useClusters } from '../clusters/queries';
import { DebouncedInput } from '../clusters/tabs/SimpleTabs';
import { MonitoringPage } from './common';
import { useEvents } from './queries';
import type { EventQuery, EventRow } from './types';

const TEXT_FILTERS = ['namespace', 'reason', 'object_kind', 'object_name'] as const;

/** The API query of the page's search parameters (empty values left out). */
export function eventQueryOf(params: URLSearchParams): EventQuery {
  const query: EventQuery = {};
  const cluster = Number(params.get('cluster'));
  if (Number.isInteger(cluster) && cluster > 0) query.cluster = cluster;
  const map = Number(params.get('service_map'));
  if (Number.isInteger(map) && map > 0) query.service_map = map;
  const type = params.get('type');
  if (type === 'Warning' || type === 'Normal') query.type = type;
  for (const key of TEXT_FILTERS) {
    const v = params.get(key)?.trim();
    if (v) query[key] = v;
  }
  if (params.get('ordering') === '-warning') query.ordering = '-warning';
  return query;
}

function clusterLabel(row: EventRow): string {
  if (row.cluster_name) return row.cluster_name;
  if (typeof row.cluster === 'object' && row.cluster) return row.cluster.name;
  return `#${String(row.cluster)}`;
}

function clusterIdOf(row: EventRow): number {
  return typeof row.cluster === 'object' && row.cluster ? row.cluster.id : row.cluster;
}

/** Where an event's object has charts: a pod's or a node's page (null for other kinds). */
export function eventChartLink(row: EventRow): string | null {
  const id = clusterIdOf(row);
  if (row.object_kind === 'Pod' && row.namespace) return `/monitoring/clusters/${id}/pods/${encodeURIComponent(row.namespace)}/${encodeURIComponent(row.object_name)}`;
  if (row.object_kind === 'Node') return `/monitoring/clusters/${id}/nodes/${encodeURIComponent(row.object_name)}`;
  if (['Deployment', 'StatefulSet', 'DaemonSet'].includes(row.object_kind) && row.namespace) {
    return `/monitoring/clusters/${id}/workloads/${encodeURIComponent(row.namespace)}/${row.object_kind}/${encodeURIComponent(row.object_name)}`;
  }
  return null;
}

export function EventsPage() {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  const [params, setParams] = useSearchParams();
  const query = eventQueryOf(params);
  const events = useEvents(query);
  const clusters = useClusters({ page_size: 200 });
  const rows = events.data?.pages.flatMap((p) => p.results) ?? [];
  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  return (
    <MonitoringPage title={t('monitoring.events.title')} testId="monitoring-events">
      <div className="filters" data-testid="event-filters">
        <FormField label={t('monitoring.events.cluster')}>
          <select name="cluster" data-testid="events-cluster" value={query.cluster ? String(query.cluster) : ''} onChange={(e) => setParam('cluster', e.target.value)}>
            <option value="">{t('monitoring.events.allClusters')}</option>
            {(clusters.data?.results ?? []).map((c) => (
              <option key={c.id} value={String(c.id)}>
                {c.display_name || c.name}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('monitoring.events.type')}>
          <select name="type" data-testid="events-type" value={query.type ?? ''} onChange={(e) => setParam('type', e.target.value)}>
            <option value="">{t('monitoring.events.allTypes')}</option>
            <option value="Warning">{t('monitoring.events.warning')}</option>
            <option value="Normal">{t('monitoring.events.normal')}</option>
          </select>
        </FormField>
        <DebouncedInput name="namespace" label={t('monitoring.events.namespace')} value={query.namespace ?? ''} onCommit={(v) => setParam('namespace', v)} />
        <DebouncedInput name="reason" label={t('monitoring.events.reason')} value={query.reason ?? ''} onCommit={(v) => setParam('reason', v)} />
        <DebouncedInput name="object_kind" label={t('monitoring.events.objectKind')} value={query.object_kind ?? ''} onCommit={(v) => setParam('object_kind', v)} />
        <DebouncedInput name="object_name" label={t('monitoring.events.objectName')} value={query.object_name ?? ''} onCommit={(v) => setParam('object_name', v)} />
        <label className="checkbox">
          <input type="checkbox" name="warnings_first" data-testid="events-warnings-first" checked={query.ordering === '-warning'} onChange={(e) => setParam('ordering', e.target.checked ? '-warning' : '')} />
          {t('monitoring.events.warningsFirst')}
        </label>
      </div>
      <section className="card card-flush">
        {events.isPending && <Loading />}
        {events.isError && <ErrorState error={events.error} onRetry={() => void events.refetch()} />}
        {events.data && rows.length === 0 && <EmptyState title={t('monitoring.events.empty')} testId="events-empty" />}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense" data-testid="events-table">
              <thead>
                <tr>
                  <th scope="col">{t('monitoring.events.lastSeen')}</th>
                  <th scope="col">{t('monitoring.events.type')}</th>
                  <th scope="col">{t('monitoring.events.reason')}</th>
                  <th scope="col">{t('monitoring.events.object')}</th>
                  <th scope="col">{t('monitoring.events.message')}</th>
                  <th scope="col" className="num">{t('monitoring.events.count')}</th>
                  <th scope="col">{t('monitoring.events.cluster')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e) => {
                  const warning = e.type === 'Warning';
                  const link = eventChartLink(e);
                  return (
                    <tr key={e.id} className={warning ? 'row-warning event-warning' : 'event-normal'} data-testid="event-row" data-type={e.type}>
                      <td className="small nowrap" title={e.last_seen}>
                        {relativeTime(e.last_seen, now, i18n.language) ?? '—'}
                      </td>
                      <td>
                        <span className={`badge ${warning ? 'badge-failure' : 'tone-neutral'}`}>{warning ? t('monitoring.events.warning') : t('monitoring.events.normal')}</span>
                      </td>
                      <td className="small">{e.reason}</td>
                      <td className="mono small wrap-any">
                        {link ? <Link to={link}>{`${e.object_kind}/${e.object_name}`}</Link> : `${e.object_kind}/${e.object_name}`}
                        {e.namespace && <div className="muted">{e.service_map?.display_name ? `${e.namespace} · ${e.service_map.display_name}` : e.namespace}</div>}
                      </td>
                      <td className="small wrap-any">{e.message}</td>
                      <td className="num small">{e.count}</td>
                      <td className="small">{clusterLabel(e)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {events.hasNextPage && (
          <div className="load-more">
            <button type="button" className="btn" data-testid="events-more" disabled={events.isFetchingNextPage} onClick={() => void events.fetchNextPage()}>
              {events.isFetchingNextPage ? t('monitoring.events.loading') : t('monitoring.events.more')}
            </button>
          </div>
        )}
      </section>
    </MonitoringPage>
  );
}
