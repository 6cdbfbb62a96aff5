/** The Cocktail-style cluster status table: one row per cluster, server-side sorting by header. */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { UsageBar } from '../components/UsageBar';
import { clusterStatusText } from '../lib/messages';
import { FreshnessBadge, StatusBadge } from './badges';
import { cores, effectiveFreshness, gb } from './format';
import type { ClusterSort } from './queries';
import type { Cluster, ClusterOrdering } from './types';

function SortHeader({
  field,
  label,
  sort,
  onSort,
}: {
  field: ClusterOrdering;
  label: string;
  sort: ClusterSort | null;
  onSort: (sort: ClusterSort) => void;
}) {
  const active = sort?.field === field;
  const desc = active && sort.desc;
  return (
    <th scope="col" aria-sort={active ? (desc ? 'descending' : 'ascending') : 'none'}>
      <button
        type="button"
        className="sort-button"
        data-testid={`sort-${field}`}
        onClick={() => onSort({ field, desc: active ? !sort.desc : false })}
      >
        {label}
        <span aria-hidden="true" className="sort-mark">
          {active ? (desc ? '▼' : '▲') : '↕'}
        </span>
      </button>
    </th>
  );
}

type Health = { nodes_not_ready: number; pods_crashlooping: number; pods_pending: number };

/**
 * What needs a look in a cluster (issue 22): nodes not ready, pods crash-looping or pending, each
 * a link to the list that shows them. The summary gains `health` on the watcher's next write
 * (until then: —); `ClusterSummary` in the generated schema lacks it until it is regenerated.
 */
function HealthCell({ cluster }: { cluster: Cluster }) {
  const { t } = useTranslation();
  const health = (cluster.summary as { health?: Health } | null | undefined)?.health;
  if (!health) return <span className="muted">{t('common.none')}</span>;
  const items: { key: string; count: number; to: string; text: string }[] = [
    { key: 'nodes', count: health.nodes_not_ready, to: `/clusters/${cluster.id}/nodes`, text: t('clusters.health.nodesNotReady', { count: health.nodes_not_ready }) },
    { key: 'crash', count: health.pods_crashlooping, to: `/clusters/${cluster.id}/pods?ordering=-restarts`, text: t('clusters.health.crashLooping', { count: health.pods_crashlooping }) },
    { key: 'pending', count: health.pods_pending, to: `/clusters/${cluster.id}/pods?phase=Pending`, text: t('clusters.health.pending', { count: health.pods_pending }) },
  ].filter((i) => i.count > 0);
  if (items.length === 0) return <span className="badge tone-ok" data-testid="health-ok">{t('clusters.health.ok')}</span>;
  return (
    <ul className="plain-list small" data-testid="health-problems">
      {items.map((i) => (
        <li key={i.key}>
          <Link to={i.to} className="bad-text" data-testid={`health-${i.key}`}>
            {i.text}
          </Link>
        </li>
      ))}
    </ul>
  );
}

export function ClustersTable({
  clusters,
  sort,
  onSort,
  now,
}: {
  clusters: Cluster[];
  sort: ClusterSort | null;
  onSort: (sort: ClusterSort) => void;
  now: number;
}) {
  const { t } = useTranslation();
  const header = (field: ClusterOrdering, label: string) => <SortHeader field={field} label={label} sort={sort} onSort={onSort} />;
  return (
    <div className="table-wrap">
      <table className="table table-dense clusters-table" data-testid="clusters-table">
        <thead>
          <tr>
            {header('name', t('clusters.col.name'))}
            {header('status', t('clusters.col.status'))}
            <th scope="col" title={t('clusters.health.legend')}>
              {t('clusters.col.health')}
            </th>
            {header('provider', t('clusters.col.provider'))}
            {header('stage', t('clusters.col.stage'))}
            {header('kubernetes_version', t('clusters.col.version'))}
            {header('nodes_ready', t('clusters.col.nodes'))}
            <th scope="col">{t('clusters.col.services')}</th>
            {header('cpu_capacity', t('clusters.col.cpu'))}
            {header('memory_capacity', t('clusters.col.memory'))}
            <th scope="col">{t('clusters.col.disk')}</th>
            {header('pods_running', t('clusters.col.pods'))}
            {header('last_sync', t('clusters.col.lastSync'))}
          </tr>
        </thead>
        <tbody>
          {clusters.map((c) => {
            const s = c.summary ?? {};
            const freshness = effectiveFreshness(c, now);
            const flagged = freshness === 'stale' || freshness === 'unreachable';
            return (
              <tr
                key={c.id}
                data-testid={`cluster-row-${c.name}`}
                data-freshness={freshness}
                className={flagged ? `row-flagged row-${freshness}` : freshness === 'disabled' ? 'row-disabled' : undefined}
              >
                <td>
                  <Link to={`/clusters/${c.id}`} className="cluster-name">
                    {c.display_name || c.name}
                  </Link>
                  <div className="muted small mono">{c.name}</div>
                </td>
                <td>
                  <StatusBadge status={c.status} message={clusterStatusText(t, c)} />
                </td>
                <td data-testid="cell-health">
                  <HealthCell cluster={c} />
                </td>
                <td>
                  {t(`clusters.provider.${c.provider}`)}
                  <div className="muted small">{c.region || t('common.none')}</div>
                </td>
                <td>{t(`clusters.stage.${c.stage}`)}</td>
                <td className="mono">{c.kubernetes_version || t('common.none')}</td>
                <td className="num" data-testid="cell-nodes">
                  {s.nodes_total !== undefined ? `${s.nodes_ready ?? 0}/${s.nodes_total}` : t('common.none')}
                </td>
                <td className="num">{s.services ?? t('common.none')}</td>
                <td className="num">
                  {s.cpu ? (
                    <>
                      <span title={t('clusters.capAllocReq')}>
                        {cores(s.cpu.capacity)} / {cores(s.cpu.allocatable)} / {cores(s.cpu.requested)}
                      </span>
                      <UsageBar
                        capacity={s.cpu.capacity}
                        allocatable={s.cpu.allocatable}
                        requested={s.cpu.requested}
                        label={t('clusters.cpuBar', { req: cores(s.cpu.requested), cap: cores(s.cpu.capacity) })}
                      />
                    </>
                  ) : (
                    t('common.none')
                  )}
                </td>
                <td className="num">
                  {s.memory ? (
                    <>
                      <span title={t('clusters.capAllocReq')}>
                        {gb(s.memory.capacity)} / {gb(s.memory.allocatable)} / {gb(s.memory.requested)}
                      </span>
                      <UsageBar
                        capacity={s.memory.capacity}
                        allocatable={s.memory.allocatable}
                        requested={s.memory.requested}
                        label={t('clusters.memBar', { req: gb(s.memory.requested), cap: gb(s.memory.capacity) })}
                      />
                    </>
                  ) : (
                    t('common.none')
                  )}
                </td>
                <td className="num">
                  {s.disk ? `${gb(s.disk.capacity)} / ${gb(s.disk.allocatable)}` : t('common.none')}
                </td>
                <td className="num" data-testid="cell-pods" title={t('clusters.legend.pods')}>
                  {s.pods ? `${s.pods.running}/${s.pods.total}/${s.pods.capacity}` : t('common.none')}
                </td>
                <td className="nowrap">
                  <FreshnessBadge cluster={c} now={now} />
                  {flagged && <span className="visually-hidden">{t('clusters.flaggedHint')}</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="small muted table-legend" data-testid="clusters-legend">
        {t('clusters.legend.figures')} {t('clusters.legend.pods')}
      </p>
    </div>
  );
}
