/**
 * Pods of a cluster on the console's table: server-side filtered and sorted (the API's
 * `ordering`), keyset-paged as the user scrolls, rows virtualised, so clusters with tens of
 * thousands of pods stay smooth (tests/browser/test_table_scale.py measures 10,000). Live changes
 * arrive through the cache (live.ts).
 *
 * Each row has the actions menu (issue 15): Edit YAML, Logs and Terminal (links to the pod page's
 * panels) and Delete. The menu reads the pod's permissions only when it is opened, so thousands of
 * rows cost no request; an action started from a row is followed above the list, since the row is
 * too short for its status line and goes away when the pod does.
 */
import { memo, useCallback, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { ActionStatusLine } from '../../objects/ActionStatus';
import { ObjectActions, type ActionLink } from '../../objects/ObjectActions';
import type { ObjectAction } from '../../objects/types';
import { PhaseBadge } from '../badges';
import { relativeTime, useNow } from '../format';
import type { PodRow } from '../types';
import { InventoryList } from './InventoryTable';
import { podPath, POD_LOGS_ANCHOR, POD_TERMINAL_ANCHOR } from './podLinks';
import { DebouncedInput, col, useUrlFilters } from './SimpleTabs';
import './inventory.css';

export const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;

export { podPath, POD_LOGS_ANCHOR, POD_TERMINAL_ANCHOR } from './podLinks';

/** How many started actions the tab follows at once (the oldest goes first). */
const MAX_FOLLOWED = 5;

/** Pods per page: a page is one indexed seek on the server, and 200 rows fill a few screens. */
export const POD_PAGE_SIZE = 200;

// Cells are memoised components with stable props (the row object, the cluster id, the follow
// callback): while the table scrolls it re-renders on every frame, and only rows that come into
// view should do any work (tests/browser/test_table_scale.py measures it).
const PodAge = memo(function PodAge({ iso }: { iso: string | null }) {
  const { i18n } = useTranslation();
  const now = useNow(30_000);
  return <span title={iso ?? undefined}>{relativeTime(iso, now, i18n.language) ?? '—'}</span>;
});

const PodName = memo(function PodName({ clusterId, row }: { clusterId: number; row: PodRow }) {
  return (
    <Link className="mono" to={podPath(clusterId, row)}>
      {row.name}
    </Link>
  );
});

const PodStatus = memo(function PodStatus({ text }: { text: string }) {
  return <PhaseBadge text={text} />;
});

const PodActions = memo(function PodActions({ clusterId, row, onAction }: { clusterId: number; row: PodRow; onAction: (a: ObjectAction) => void }) {
  const { t } = useTranslation();
  const links: ActionLink[] = [
    { key: 'logs', label: t('logs.title'), to: `${podPath(clusterId, row)}#${POD_LOGS_ANCHOR}`, grant: 'pods.logs' },
    { key: 'terminal', label: t('terminal.title'), to: `${podPath(clusterId, row)}#${POD_TERMINAL_ANCHOR}`, grant: 'pods.exec' },
  ];
  return (
    <ObjectActions
      clusterId={clusterId}
      objectRef={{ group: 'core', version: 'v1', plural: 'pods', kind: 'Pod', namespace: row.namespace, name: row.name }}
      links={links}
      onAction={onAction}
    />
  );
});

export function PodsTab({ clusterId, height = 560 }: { clusterId: number; height?: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['namespace', 'node', 'phase', 'label_selector', 'name_prefix', 'ordering'] as const);
  const [followed, setFollowed] = useState<ObjectAction[]>([]);
  const follow = useCallback((action: ObjectAction) => setFollowed((old) => [...old.filter((a) => a.id !== action.id), action].slice(-MAX_FOLLOWED)), []);

  const columns = useMemo(() => {
    return [
      col<'Pod'>('namespace', t('clusters.col.namespace'), (r) => <span className="mono">{r.namespace}</span>, { sortKey: 'namespace', priority: 2 }),
      col<'Pod'>('name', t('clusters.col.name'), (r) => <PodName clusterId={clusterId} row={r} />, { sortKey: 'name' }),
      col<'Pod'>('status', t('clusters.col.status'), (r) => <PodStatus text={r.data.status_text || r.phase} />, { sortKey: 'phase' }),
      col<'Pod'>('ready', t('clusters.col.ready'), (r) => r.data.ready, { align: 'end', priority: 2 }),
      col<'Pod'>('restarts', t('clusters.col.restarts'), (r) => <span className={r.data.restarts > 0 ? 'warn-text' : undefined}>{r.data.restarts}</span>, {
        sortKey: 'restarts',
        align: 'end',
      }),
      col<'Pod'>('node', t('clusters.col.node'), (r) => <span className="mono">{r.node_name || '—'}</span>, { sortKey: 'node_name', priority: 2 }),
      col<'Pod'>('ip', t('clusters.col.podIp'), (r) => <span className="mono">{r.data.pod_ip || '—'}</span>, { priority: 3 }),
      col<'Pod'>('age', t('clusters.col.age'), (r) => <PodAge iso={r.created} />, { sortKey: 'created', className: 'nowrap', priority: 3 }),
      col<'Pod'>('actions', t('objects.actions'), (r) => <PodActions clusterId={clusterId} row={r} onAction={follow} />, {
        className: 'pod-actions-cell',
      }),
    ];
  }, [t, clusterId, follow]);

  const toolbar = (
    <div className="inv-filters" data-testid="pod-filters">
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
        maxLength={4096}
        value={filters.label_selector}
        onCommit={(v) => set('label_selector', v)}
      />
      <DebouncedInput name="name_prefix" label={t('clusters.filter.namePrefix')} value={filters.name_prefix} onCommit={(v) => set('name_prefix', v)} />
    </div>
  );

  const above =
    followed.length > 0 ? (
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
    ) : null;

  return (
    <InventoryList<'Pod'>
      clusterId={clusterId}
      resource="pods"
      params={filters}
      onOrderingChange={(ordering) => set('ordering', ordering ?? '')}
      tableKey="cluster.pods"
      label={t('inventory.table.pods')}
      toolbar={toolbar}
      above={above}
      testId="pods-list"
      rowTestId={(r) => `pod-row-${r.namespace}/${r.name}`}
      rowAttributes={(r) => ({ 'data-status': r.data.status_text || r.phase })}
      columns={columns}
      pageSize={POD_PAGE_SIZE}
      maxHeight={height}
    />
  );
}
