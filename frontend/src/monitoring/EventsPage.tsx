/**
 * /monitoring/events — cluster events kept by the portal (past the cluster's own TTL) on the
 * console's DataTable: newest first, or sorted by the server by last seen or type (warnings
 * first); filtered by cluster, namespace, type, reason and object (all in the URL, with the
 * sort); warnings highlighted; keyset pages load as the list scrolls.
 */
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { FormField } from '../components/FormField';
import { DataTable, useKeysetList, type ColumnDef, pagingProps } from '../components/table';
import { relativeTime, useNow } from '../clusters/format';
import { useClusters } from '../clusters/queries';
import { fetchKeysetPage, keysetKey, validOrdering } from '../lists/keyset';
import { SearchInput } from '../lists/SearchInput';
import { MonitoringPage } from './common';
import type { EventQuery, EventRow } from './types';

const TABLE = 'events';
const SORT_KEYS = ['last_seen', 'warning'] as const;

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
  const ordering = validOrdering(params.get('ordering'), SORT_KEYS);
  if (ordering) query.ordering = ordering;
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

function useEventColumns(): ColumnDef<EventRow>[] {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  return useMemo(
    () => [
      {
        id: 'last_seen',
        meta: { label: t('monitoring.events.lastSeen'), sortKey: 'last_seen', priority: 1, className: 'small nowrap' },
        cell: ({ row: { original: e } }) => <span title={e.last_seen}>{relativeTime(e.last_seen, now, i18n.language) ?? '—'}</span>,
      },
      {
        id: 'type',
        meta: { label: t('monitoring.events.type'), sortKey: 'warning', priority: 1 },
        cell: ({ row: { original: e } }) => {
          const warning = e.type === 'Warning';
          return (
            <span className={`badge ${warning ? 'badge-failure' : 'tone-neutral'}`} data-type={e.type}>
              {warning ? t('monitoring.events.warning') : t('monitoring.events.normal')}
            </span>
          );
        },
      },
      {
        id: 'reason',
        meta: { label: t('monitoring.events.reason'), priority: 2, className: 'small' },
        cell: ({ row: { original: e } }) => e.reason,
      },
      {
        id: 'object',
        meta: { label: t('monitoring.events.object'), priority: 1, className: 'mono small wrap-any' },
        cell: ({ row: { original: e } }) => {
          const link = eventChartLink(e);
          return (
            <>
              {link ? <Link to={link}>{`${e.object_kind}/${e.object_name}`}</Link> : `${e.object_kind}/${e.object_name}`}
              {e.namespace && <div className="muted">{e.service_map?.display_name ? `${e.namespace} · ${e.service_map.display_name}` : e.namespace}</div>}
            </>
          );
        },
      },
      {
        id: 'message',
        meta: { label: t('monitoring.events.message'), priority: 2, className: 'small wrap-any' },
        cell: ({ row: { original: e } }) => e.message,
      },
      {
        id: 'count',
        meta: { label: t('monitoring.events.count'), align: 'end', priority: 3, className: 'small' },
        cell: ({ row: { original: e } }) => e.count,
      },
      {
        id: 'cluster',
        meta: { label: t('monitoring.events.cluster'), priority: 3, className: 'small' },
        cell: ({ row: { original: e } }) => clusterLabel(e),
      },
    ],
    [t, i18n.language, now],
  );
}

export function EventsPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const query = eventQueryOf(params);
  const list = useKeysetList<EventRow>({
    queryKey: keysetKey(TABLE, query),
    fetchPage: (cursor) => fetchKeysetPage<EventRow>('/api/monitoring/events/', { ...query }, cursor),
  });
  const columns = useEventColumns();
  const clusters = useClusters({ page_size: 200 });
  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  return (
    <MonitoringPage title={t('monitoring.events.title')} testId="monitoring-events">
      <section className="card card-flush">
        <DataTable<EventRow>
          tableKey={TABLE}
          label={t('monitoring.events.title')}
          columns={columns}
          rows={list.rows}
          getRowId={(e) => String(e.id)}
          ordering={query.ordering ?? null}
          onOrderingChange={(o) => setParam('ordering', o ?? '')}
          {...pagingProps(list)}
          empty={<EmptyState title={t('monitoring.events.empty')} testId="events-empty" />}
          rowClassName={(e) => (e.type === 'Warning' ? 'row-warning event-warning' : 'event-normal')}
          rowTestId={() => 'event-row'}
          testId="events-table"
          toolbar={
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
              <SearchInput name="namespace" label={t('monitoring.events.namespace')} value={query.namespace ?? ''} maxLength={253} onCommit={(v) => setParam('namespace', v)} />
              <SearchInput name="reason" label={t('monitoring.events.reason')} value={query.reason ?? ''} maxLength={253} onCommit={(v) => setParam('reason', v)} />
              <SearchInput name="object_kind" label={t('monitoring.events.objectKind')} value={query.object_kind ?? ''} maxLength={253} onCommit={(v) => setParam('object_kind', v)} />
              <SearchInput name="object_name" label={t('monitoring.events.objectName')} value={query.object_name ?? ''} maxLength={253} onCommit={(v) => setParam('object_name', v)} />
              <label className="checkbox">
                <input type="checkbox" name="warnings_first" data-testid="events-warnings-first" checked={query.ordering === '-warning'} onChange={(e) => setParam('ordering', e.target.checked ? '-warning' : '')} />
                {t('monitoring.events.warningsFirst')}
              </label>
            </div>
          }
        />
      </section>
    </MonitoringPage>
  );
}
