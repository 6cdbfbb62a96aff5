/**
 * The Cocktail-style cluster status table on the shared DataTable: one row per cluster,
 * server-side sorting by header, columns by priority (the table fits 1,440 px with every column;
 * narrower screens drop provider/version/services/disk first, then stage and capacity).
 */
import { useMemo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router-dom';
import { DataTable, type ColumnDef } from '../components/table';
import { UsageBar } from '../components/UsageBar';
import { clusterStatusText } from '../lib/messages';
import { FreshnessBadge, StatusBadge } from './badges';
import { cores, effectiveFreshness, gb } from './format';
import type { Cluster } from './types';
import './clustersTable.css';

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

/** Capacity / allocatable / requested with a bar, in two short lines. */
function Capacity({
  figures,
  fmt,
  barLabel,
  title,
}: {
  figures: { capacity: number; allocatable: number; requested: number };
  fmt: (n: number) => string;
  barLabel: string;
  title: string;
}) {
  return (
    <>
      <span title={title} className="ct-figures">
        {fmt(figures.capacity)} / {fmt(figures.allocatable)} / {fmt(figures.requested)}
      </span>
      <UsageBar capacity={figures.capacity} allocatable={figures.allocatable} requested={figures.requested} label={barLabel} />
    </>
  );
}

export function clusterRowClass(c: Cluster, now: number): string | undefined {
  const freshness = effectiveFreshness(c, now);
  if (freshness === 'stale' || freshness === 'unreachable') return `row-flagged row-${freshness}`;
  return freshness === 'disabled' ? 'row-disabled' : undefined;
}

export function ClustersTable({
  clusters,
  ordering,
  onOrderingChange,
  now,
  toolbar,
  loading,
  error,
  onRetry,
  empty,
}: {
  clusters: Cluster[];
  ordering: string | null;
  onOrderingChange: (ordering: string | null) => void;
  now: number;
  toolbar?: ReactNode;
  loading?: boolean;
  error?: unknown;
  onRetry?: () => void;
  empty?: ReactNode;
}) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const none = t('common.none');
  const columns = useMemo<ColumnDef<Cluster, unknown>[]>(
    () => [
      {
        id: 'name',
        meta: { label: t('clusters.col.name'), sortKey: 'name' },
        cell: ({ row: { original: c } }) => (
          <>
            <Link to={`/clusters/${c.id}`} className="cluster-name">
              {c.display_name || c.name}
            </Link>
            <div className="muted small mono">{c.name}</div>
          </>
        ),
      },
      {
        id: 'status',
        meta: { label: t('clusters.col.status'), sortKey: 'status' },
        cell: ({ row: { original: c } }) => <StatusBadge status={c.status} message={clusterStatusText(t, c)} />,
      },
      {
        id: 'health',
        meta: { label: t('clusters.col.health'), headerTitle: t('clusters.health.legend'), cellTestId: 'cell-health' },
        cell: ({ row: { original: c } }) => <HealthCell cluster={c} />,
      },
      {
        id: 'provider',
        meta: { label: t('clusters.col.provider'), sortKey: 'provider', priority: 3 },
        cell: ({ row: { original: c } }) => (
          <>
            {t(`clusters.provider.${c.provider}`)}
            <div className="muted small">{c.region || none}</div>
          </>
        ),
      },
      {
        id: 'stage',
        meta: { label: t('clusters.col.stage'), sortKey: 'stage', priority: 2 },
        cell: ({ row: { original: c } }) => t(`clusters.stage.${c.stage}`),
      },
      {
        id: 'version',
        meta: { label: t('clusters.col.version'), sortKey: 'kubernetes_version', priority: 3, className: 'mono' },
        cell: ({ row: { original: c } }) => c.kubernetes_version || none,
      },
      {
        id: 'nodes',
        meta: { label: t('clusters.col.nodes'), sortKey: 'nodes_ready', align: 'end', cellTestId: 'cell-nodes' },
        cell: ({ row: { original: c } }) => {
          const s = c.summary ?? {};
          return s.nodes_total !== undefined ? `${s.nodes_ready ?? 0}/${s.nodes_total}` : none;
        },
      },
      {
        id: 'services',
        meta: { label: t('clusters.col.services'), align: 'end', priority: 3 },
        cell: ({ row: { original: c } }) => c.summary?.services ?? none,
      },
      {
        id: 'cpu',
        meta: { label: t('clusters.col.cpu'), sortKey: 'cpu_capacity', align: 'end', priority: 2, className: 'ct-capacity' },
        cell: ({ row: { original: c } }) => {
          const cpu = c.summary?.cpu;
          return cpu ? (
            <Capacity
              figures={cpu}
              fmt={cores}
              title={t('clusters.capAllocReq')}
              barLabel={t('clusters.cpuBar', { req: cores(cpu.requested), cap: cores(cpu.capacity) })}
            />
          ) : (
            none
          );
        },
      },
      {
        id: 'memory',
        meta: { label: t('clusters.col.memory'), sortKey: 'memory_capacity', align: 'end', priority: 2, className: 'ct-capacity' },
        cell: ({ row: { original: c } }) => {
          const mem = c.summary?.memory;
          return mem ? (
            <Capacity
              figures={mem}
              fmt={gb}
              title={t('clusters.capAllocReq')}
              barLabel={t('clusters.memBar', { req: gb(mem.requested), cap: gb(mem.capacity) })}
            />
          ) : (
            none
          );
        },
      },
      {
        id: 'disk',
        meta: { label: t('clusters.col.disk'), align: 'end', priority: 3 },
        cell: ({ row: { original: c } }) => {
          const disk = c.summary?.disk;
          return disk ? `${gb(disk.capacity)} / ${gb(disk.allocatable)}` : none;
        },
      },
      {
        id: 'pods',
        meta: { label: t('clusters.col.pods'), sortKey: 'pods_running', align: 'end', cellTestId: 'cell-pods', headerTitle: t('clusters.legend.pods') },
        cell: ({ row: { original: c } }) => {
          const pods = c.summary?.pods;
          return <span title={t('clusters.legend.pods')}>{pods ? `${pods.running}/${pods.total}/${pods.capacity}` : none}</span>;
        },
      },
      {
        id: 'lastSync',
        meta: { label: t('clusters.col.lastSync'), sortKey: 'last_sync', cellTestId: 'cell-last-sync' },
        cell: ({ row: { original: c } }) => {
          const freshness = effectiveFreshness(c, now);
          const flagged = freshness === 'stale' || freshness === 'unreachable';
          return (
            <>
              <FreshnessBadge cluster={c} now={now} />
              {flagged && <span className="visually-hidden">{t('clusters.flaggedHint')}</span>}
            </>
          );
        },
      },
    ],
    [t, now, none],
  );

  return (
    <>
      <DataTable<Cluster>
        tableKey="clusters"
        label={t('clusters.title')}
        columns={columns}
        rows={clusters}
        getRowId={(c) => String(c.id)}
        ordering={ordering}
        onOrderingChange={onOrderingChange}
        loading={loading}
        error={error}
        onRetry={onRetry}
        empty={empty}
        toolbar={toolbar}
        onRowActivate={(c) => navigate(`/clusters/${c.id}`)}
        rowClassName={(c) => clusterRowClass(c, now)}
        rowTestId={(c) => `cluster-row-${c.name}`}
        rowAttributes={(c) => ({ 'data-freshness': effectiveFreshness(c, now) })}
        testId="clusters-table"
      />
      {clusters.length > 0 && (
        <p className="small muted table-legend ct-legend" data-testid="clusters-legend">
          {t('clusters.legend.figures')} {t('clusters.legend.pods')}
        </p>
      )}
    </>
  );
}
