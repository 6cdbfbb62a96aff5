/**
 * Pods of a cluster: server-side filtered, sorted and cursor-paged, shown in a virtualised list
 * that loads the next page as the user scrolls, so clusters with tens of thousands of pods stay
 * smooth. Live changes arrive through the cache (live.ts).
 *
 * Each row has the actions menu (issue 15): Edit YAML, Logs and Terminal (links to the pod page's
 * panels) and Delete. The menu reads the pod's permissions only when it is opened, so thousands of
 * rows cost no request; an action started from a row is followed above the list, since the row is
 * too short for its status line and goes away when the pod does.
 */
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { ErrorState } from '../../components/ErrorState';
import { Loading } from '../../components/Loading';
import { VirtualList } from '../../components/VirtualList';
import { ActionStatusLine } from '../../objects/ActionStatus';
import { ObjectActions, type ActionLink } from '../../objects/ObjectActions';
import type { ObjectAction } from '../../objects/types';
import { PhaseBadge } from '../badges';
import { relativeTime, useNow } from '../format';
import { useNamespaceLive } from '../live';
import { useInventory } from '../queries';
import type { PodRow } from '../types';
import { FreshnessLine } from './InventoryTable';
import { DebouncedInput, useUrlFilters } from './SimpleTabs';

export const POD_ROW_HEIGHT = 36;
export const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
const SORTABLE = ['namespace', 'name', 'phase', 'restarts', 'node_name', 'created'] as const;
type SortField = (typeof SORTABLE)[number];

export function podPath(clusterId: number, row: { namespace: string; name: string }): string {
  return `/clusters/${clusterId}/pods/${encodeURIComponent(row.namespace)}/${encodeURIComponent(row.name)}`;
}

/** Anchors of the pod page's panels (PodDetailPage.tsx), for links from the rows' menus. */
export const POD_LOGS_ANCHOR = 'pod-logs';
export const POD_TERMINAL_ANCHOR = 'pod-terminal';

/** How many started actions the tab follows at once (the oldest goes first). */
const MAX_FOLLOWED = 5;

export function PodsTab({ clusterId, height = 560 }: { clusterId: number; height?: number }) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  const [filters, set] = useUrlFilters(['namespace', 'node', 'phase', 'label_selector', 'name_prefix', 'ordering'] as const);
  const list = useInventory<'Pod'>(clusterId, 'pods', filters, { pageSize: 200 });
  useNamespaceLive(clusterId, filters.namespace);
  const rows: PodRow[] = list.data ? list.data.pages.flatMap((p) => p.results) : [];
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;
  const [followed, setFollowed] = useState<ObjectAction[]>([]);
  const follow = useCallback((action: ObjectAction) => setFollowed((old) => [...old.filter((a) => a.id !== action.id), action].slice(-MAX_FOLLOWED)), []);
  const links = (r: PodRow): ActionLink[] => [
    { key: 'logs', label: t('logs.title'), to: `${podPath(clusterId, r)}#${POD_LOGS_ANCHOR}`, grant: 'pods.logs' },
    { key: 'terminal', label: t('terminal.title'), to: `${podPath(clusterId, r)}#${POD_TERMINAL_ANCHOR}`, grant: 'pods.exec' },
  ];
  const onEnd = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const sortField = filters.ordering.replace(/^-/, '');
  const desc = filters.ordering.startsWith('-');
  const header = (field: SortField | null, label: string) => {
    if (!field) return <span role="columnheader">{label}</span>;
    const active = sortField === field;
    return (
      <span role="columnheader" aria-sort={active ? (desc ? 'descending' : 'ascending') : 'none'}>
        <button
          type="button"
          className="sort-button"
          data-testid={`pod-sort-${field}`}
          onClick={() => set('ordering', active && !desc ? `-${field}` : field)}
        >
          {label}
          <span aria-hidden="true" className="sort-mark">
            {active ? (desc ? '▼' : '▲') : '↕'}
          </span>
        </button>
      </span>
    );
  };

  return (
    <>
      <div className="filters" data-testid="pod-filters">
        <DebouncedInput name="namespace" label={t('clusters.col.namespace')} value={filters.namespace} onCommit={(v) => set('namespace', v)} />
        <DebouncedInput name="node" label={t('clusters.col.node')} value={filters.node} onCommit={(v) => set('node', v)} />
        <label className="field">
          <span>{t('clusters.col.phase')}</span>
          <select name="phase" value={filters.phase} onChange={(e) => set('phase', e.target.value)}>
            <option value="">{t('clusters.filter.any')}</option>
            {POD_PHASES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <DebouncedInput
          name="label_selector"
          label={t('clusters.filter.labelSelector')}
          placeholder="app=web,tier!=db"
          value={filters.label_selector}
          onCommit={(v) => set('label_selector', v)}
        />
        <DebouncedInput name="name_prefix" label={t('clusters.filter.namePrefix')} value={filters.name_prefix} onCommit={(v) => set('name_prefix', v)} />
      </div>
      {followed.length > 0 && (
        <div className="pod-actions-followed" data-testid="pod-actions-followed">
          {followed.map((a) => (
            <ActionStatusLine
              key={a.id}
              clusterId={clusterId}
              namespace={a.namespace}
              actionId={a.id}
              onDismiss={() => setFollowed((old) => old.filter((o) => o.id !== a.id))}
            />
          ))}
        </div>
      )}
      {list.isPending && <Loading />}
      {list.isError && <ErrorState error={list.error} onRetry={() => void list.refetch()} />}
      {list.data && (
        <>
          <FreshnessLine page={list.data.pages[0]} />
          <p className="muted small" data-testid="pods-count">
            {t('clusters.podsLoaded', { count: rows.length })}
            {list.hasNextPage ? ` · ${t('clusters.morePods')}` : ''}
          </p>
          {rows.length === 0 ? (
            <p className="muted empty-line" data-testid="pods-empty">
              {t('clusters.noObjects')}
            </p>
          ) : (
            <VirtualList
              testId="pods-list"
              items={rows}
              rowHeight={POD_ROW_HEIGHT}
              height={Math.min(height, rows.length * POD_ROW_HEIGHT + 40)}
              getKey={(r) => `${r.namespace}/${r.name}`}
              onEndReached={onEnd}
              header={
                <div className="pod-grid pod-head" role="row">
                  {header('namespace', t('clusters.col.namespace'))}
                  {header('name', t('clusters.col.name'))}
                  {header('phase', t('clusters.col.status'))}
                  {header(null, t('clusters.col.ready'))}
                  {header('restarts', t('clusters.col.restarts'))}
                  {header('node_name', t('clusters.col.node'))}
                  {header(null, t('clusters.col.podIp'))}
                  {header('created', t('clusters.col.age'))}
                  {header(null, t('objects.actions'))}
                </div>
              }
              renderRow={(r) => (
                <div className="pod-grid" data-testid={`pod-row-${r.namespace}/${r.name}`} data-status={r.data.status_text || r.phase}>
                  <span role="cell" className="mono ellipsis">
                    {r.namespace}
                  </span>
                  <span role="cell" className="mono ellipsis">
                    <Link to={podPath(clusterId, r)}>{r.name}</Link>
                  </span>
                  <span role="cell">
                    <PhaseBadge text={r.data.status_text || r.phase} />
                  </span>
                  <span role="cell" className="num">
                    {r.data.ready}
                  </span>
                  <span role="cell" className={`num ${r.data.restarts > 0 ? 'warn-text' : ''}`}>
                    {r.data.restarts}
                  </span>
                  <span role="cell" className="mono ellipsis">
                    {r.node_name || '—'}
                  </span>
                  <span role="cell" className="mono ellipsis">
                    {r.data.pod_ip || '—'}
                  </span>
                  <span role="cell" className="nowrap" title={r.created ?? undefined}>
                    {relativeTime(r.created, now, i18n.language) ?? '—'}
                  </span>
                  <span role="cell" className="pod-actions-cell">
                    <ObjectActions
                      clusterId={clusterId}
                      objectRef={{ group: 'core', version: 'v1', plural: 'pods', kind: 'Pod', namespace: r.namespace, name: r.name }}
                      links={links(r)}
                      onAction={follow}
                    />
                  </span>
                </div>
              )}
            />
          )}
          {list.isFetchingNextPage && <Loading />}
        </>
      )}
    </>
  );
}
