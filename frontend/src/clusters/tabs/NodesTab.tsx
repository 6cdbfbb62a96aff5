/**
 * Nodes of a cluster: conditions, roles, capacity / allocatable / requested bars, pods per node,
 * taints and cordoned state, with cordon / uncordon / drain (a confirmation names the node, then
 * live progress from node_operation.updated). A placement view draws each node's pods as
 * squares coloured by status. The table is the console's DataTable (`cluster.nodes`).
 */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { useMe } from '../../auth/queries';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { ErrorState } from '../../components/ErrorState';
import { Loading } from '../../components/Loading';
import { DataTable, type ColumnDef, pagingProps } from '../../components/table';
import { UsageBar } from '../../components/UsageBar';
import { messageText } from '../../lib/messages';
import { phaseTone } from '../badges';
import { bytesHuman, cores } from '../format';
import { useInventory, useNodeOperation, useOperation } from '../queries';
import type { NodeListRow, NodeOperationKind, PodRow } from '../types';
import { DrainDialog } from './DrainDialog';
import { FreshnessLine, useInventoryList } from './InventoryTable';
import { podPath } from './podLinks';
import { DebouncedInput, useUrlFilters } from './SimpleTabs';

const NORMAL_WHEN_FALSE = new Set(['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable']);

/** Conditions that are not in their healthy state (Ready=True, pressures=False). */
export function badConditions(node: NodeListRow) {
  return (node.data.conditions ?? []).filter((c) =>
    c.type === 'Ready' ? c.status !== 'True' : NORMAL_WHEN_FALSE.has(c.type) ? c.status !== 'False' : false,
  );
}

function OperationProgress({ clusterId, opId, onDismiss }: { clusterId: number; opId: number; onDismiss: () => void }) {
  const { t } = useTranslation();
  const op = useOperation(clusterId, opId);
  const data = op.data;
  if (!data) return null;
  const done = data.status === 'succeeded' || data.status === 'failed';
  const evicted = data.progress?.evicted ?? [];
  const failed = data.progress?.failed ?? [];
  // `blocked` (drain): pods that need force / delete_emptydir_data; nothing was evicted then.
  const blocked = (data.progress as { blocked?: { pod: string; reason: string }[] } | undefined)?.blocked ?? [];
  return (
    <div className={`op-progress op-${data.status}`} data-testid={`node-op-${data.node}`} data-status={data.status} role="status">
      <strong>{t(`clusters.nodeOp.${data.kind}`)}</strong> <span className="mono">{data.node}</span> —{' '}
      {t(`clusters.opStatus.${data.status}`)}
      {data.kind === 'drain' && (
        <span className="muted">
          {' '}
          · {t('clusters.drainProgress', { evicted: evicted.length, remaining: data.progress?.remaining ?? 0, failed: failed.length })}
        </span>
      )}
      {/* A finished cordon/uncordon/drain is said above in words; the server's sentence only for the rest. */}
      {data.message && data.status !== 'succeeded' && (
        <div className="small" data-testid="op-message">
          {messageText(t, data)}
        </div>
      )}
      {blocked.length > 0 && (
        <ul className="plain-list small" data-testid={`node-op-blocked-${data.node}`}>
          {blocked.map((f) => (
            <li key={f.pod}>
              <span className="mono">{f.pod}</span>: {f.reason}
            </li>
          ))}
        </ul>
      )}
      {failed.length > 0 && (
        <ul className="plain-list small">
          {failed.map((f) => (
            <li key={f.pod}>
              <span className="mono">{f.pod}</span>: {f.reason}
            </li>
          ))}
        </ul>
      )}
      {done && (
        <button type="button" className="btn btn-small" onClick={onDismiss}>
          {t('common.dismiss')}
        </button>
      )}
    </div>
  );
}

function NodeActions({ node, onRun }: { node: NodeListRow; onRun: (kind: NodeOperationKind) => void }) {
  const { t } = useTranslation();
  return (
    <div className="row-actions">
      {node.data.unschedulable ? (
        <button type="button" className="btn btn-small" data-testid={`uncordon-${node.name}`} onClick={() => onRun('uncordon')}>
          {t('clusters.nodeOp.uncordon')}
        </button>
      ) : (
        <button type="button" className="btn btn-small" data-testid={`cordon-${node.name}`} onClick={() => onRun('cordon')}>
          {t('clusters.nodeOp.cordon')}
        </button>
      )}
      <button type="button" className="btn btn-small btn-danger-outline" data-testid={`drain-${node.name}`} onClick={() => onRun('drain')}>
        {t('clusters.nodeOp.drain')}
      </button>
    </div>
  );
}

function nodeColumns(t: TFunction, canOperate: boolean, onRun: (node: string, kind: NodeOperationKind) => void): ColumnDef<NodeListRow, unknown>[] {
  const column = (
    id: string,
    label: string,
    cell: (n: NodeListRow) => ReactNode,
    meta: { sortKey?: string; priority?: 1 | 2 | 3; align?: 'start' | 'end'; headerTitle?: string; className?: string; cellTestId?: string } = {},
  ): ColumnDef<NodeListRow, unknown> => ({ id, header: label, cell: ({ row }) => cell(row.original), meta: { label, ...meta } });
  const out = [
    column(
      'name',
      t('clusters.col.name'),
      (n) => (
        <>
          <span className="mono">{n.name}</span>
          <div className="muted small">
            {(n.data.roles ?? []).join(', ') || t('clusters.worker')}
            {n.data.internal_ip ? ` · ${n.data.internal_ip}` : ''}
            {n.data.zone ? ` · ${n.data.zone}` : ''}
          </div>
        </>
      ),
      { sortKey: 'name' },
    ),
    column('status', t('clusters.col.status'), (n) => (
      <>
        <span className={`badge ${n.data.ready ? 'tone-ok' : 'tone-bad'}`}>{n.data.ready ? 'Ready' : 'NotReady'}</span>{' '}
        {n.data.unschedulable && (
          <span className="badge tone-warn" data-testid="cordoned">
            {t('clusters.cordoned')}
          </span>
        )}
        {badConditions(n).map((c) => (
          <div key={c.type} className="small bad-text" title={c.message}>
            {c.type}={c.status} {c.reason && `(${c.reason})`}
          </div>
        ))}
      </>
    )),
    column(
      'cpu',
      t('clusters.col.cpu'),
      (n) => (
        <>
          {cores(n.data.capacity?.cpu)} / {cores(n.data.allocatable?.cpu)} / {cores(n.requests?.cpu)}
          <UsageBar
            capacity={n.data.capacity?.cpu}
            allocatable={n.data.allocatable?.cpu}
            requested={n.requests?.cpu}
            label={t('clusters.cpuBar', { req: cores(n.requests?.cpu), cap: cores(n.data.capacity?.cpu) })}
          />
        </>
      ),
      { align: 'end', headerTitle: t('clusters.capAllocReq'), priority: 2 },
    ),
    column(
      'memory',
      t('clusters.col.memoryShort'),
      (n) => (
        <>
          {bytesHuman(n.data.capacity?.memory)} / {bytesHuman(n.data.allocatable?.memory)} / {bytesHuman(n.requests?.memory)}
          <UsageBar
            capacity={n.data.capacity?.memory}
            allocatable={n.data.allocatable?.memory}
            requested={n.requests?.memory}
            label={t('clusters.memBar', { req: bytesHuman(n.requests?.memory), cap: bytesHuman(n.data.capacity?.memory) })}
          />
        </>
      ),
      { align: 'end', headerTitle: t('clusters.capAllocReq'), priority: 2 },
    ),
    column('pods', t('clusters.col.pods'), (n) => `${n.pod_count ?? '—'} / ${n.data.allocatable?.pods ?? n.data.capacity?.pods ?? '—'}`, {
      align: 'end',
      cellTestId: 'node-pods',
    }),
    column(
      'taints',
      t('clusters.col.taints'),
      (n) =>
        (n.data.taints ?? []).length === 0 ? (
          <span className="muted">—</span>
        ) : (
          (n.data.taints ?? []).map((taint) => (
            <div key={`${taint.key}:${taint.effect}`} className="mono small">
              {taint.key}
              {taint.value ? `=${taint.value}` : ''}:{taint.effect}
            </div>
          ))
        ),
      { priority: 3 },
    ),
    column('version', t('clusters.col.version'), (n) => <span className="mono small">{n.data.kubelet_version}</span>, { priority: 3 }),
  ];
  if (canOperate) {
    out.push(column('actions', t('clusters.col.actions'), (n) => <NodeActions node={n} onRun={(kind) => onRun(n.name, kind)} />, { className: 'actions-col' }));
  }
  return out;
}

/** Pods drawn per node, at most this many (the placement view is an overview, not a list). */
export const PLACEMENT_MAX_PODS = 3000;

export function PlacementView({ clusterId, nodes }: { clusterId: number; nodes: NodeListRow[] }) {
  const { t } = useTranslation();
  const pods = useInventory<'Pod'>(clusterId, 'pods', {}, { pageSize: 500 });
  const loaded: PodRow[] = pods.data ? pods.data.pages.flatMap((p) => p.results) : [];
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = pods;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && loaded.length < PLACEMENT_MAX_PODS) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage, loaded.length]);
  if (pods.isPending) return <Loading />;
  if (pods.isError) return <ErrorState error={pods.error} onRetry={() => void pods.refetch()} />;
  const byNode = new Map<string, PodRow[]>();
  for (const pod of loaded) {
    const list = byNode.get(pod.node_name) ?? [];
    list.push(pod);
    byNode.set(pod.node_name, list);
  }
  const boxes = nodes.map((n) => ({ name: n.name, node: n as NodeListRow | null, pods: byNode.get(n.name) ?? [] }));
  const unscheduled = byNode.get('') ?? [];
  if (unscheduled.length) boxes.push({ name: '', node: null, pods: unscheduled });
  return (
    <div data-testid="placement-view">
      {hasNextPage && loaded.length >= PLACEMENT_MAX_PODS && (
        <p className="alert alert-warning">{t('clusters.placementTruncated', { count: loaded.length })}</p>
      )}
      <div className="placement-legend small muted">
        <span className="pod-square tone-ok" /> {t('clusters.legend.ok')} <span className="pod-square tone-warn" /> {t('clusters.legend.warn')}{' '}
        <span className="pod-square tone-bad" /> {t('clusters.legend.bad')} <span className="pod-square tone-neutral" /> {t('clusters.legend.other')}
      </div>
      <div className="placement-grid">
        {boxes.map((box) => (
          <section
            key={box.name || '(unscheduled)'}
            className={`placement-node ${box.node && !box.node.data.ready ? 'notready' : ''} ${box.node?.data.unschedulable ? 'cordoned' : ''}`}
            data-testid={`placement-node-${box.name || 'unscheduled'}`}
            data-pods={box.pods.length}
          >
            <header>
              <span className="mono ellipsis">{box.name || t('clusters.unscheduled')}</span>
              <span className="muted small">
                {box.pods.length}
                {box.node ? ` / ${box.node.data.allocatable?.pods ?? '?'}` : ''}
              </span>
            </header>
            {box.node && (
              <div className="small">
                {!box.node.data.ready && <span className="badge tone-bad">NotReady</span>}{' '}
                {box.node.data.unschedulable && <span className="badge tone-warn">{t('clusters.cordoned')}</span>}
              </div>
            )}
            <div className="pod-squares">
              {box.pods.map((p) => {
                const status = p.data.status_text || p.phase;
                return (
                  <Link
                    key={`${p.namespace}/${p.name}`}
                    to={podPath(clusterId, p)}
                    className={`pod-square tone-${phaseTone(status)}`}
                    title={`${p.namespace}/${p.name} · ${status}`}
                    aria-label={`${p.namespace}/${p.name} ${status}`}
                    data-testid={`pod-square-${p.namespace}/${p.name}`}
                  />
                );
              })}
            </div>
          </section>
        ))}
      </div>
    </div>
  );
}

export function NodesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const me = useMe();
  const canOperate = me.data?.role === 'admin' || me.data?.role === 'operator';
  const [filters, set] = useUrlFilters(['view', 'q', 'ordering'] as const);
  const view = filters.view === 'placement' ? 'placement' : 'table';
  const params = { q: filters.q, ordering: filters.ordering };
  const nodes = useInventoryList<'Node'>(clusterId, 'nodes', params, { pageSize: 500 });
  const runOp = useNodeOperation(clusterId);
  const [confirm, setConfirm] = useState<{ node: string; kind: NodeOperationKind } | null>(null);
  const [ops, setOps] = useState<number[]>([]);
  const columns = useMemo(() => nodeColumns(t, canOperate, (node, kind) => setConfirm({ node, kind })), [t, canOperate]);
  // /nodes/ rows add `requests` and `pod_count` beside `data` (NodePage in the schema).
  const rows = nodes.rows as unknown as NodeListRow[];

  const viewSwitch = (
    <div className="segmented" role="group" aria-label={t('clusters.view')}>
      <button type="button" className={view === 'table' ? 'active' : ''} aria-pressed={view === 'table'} onClick={() => set('view', '')} data-testid="view-table">
        {t('clusters.viewTable')}
      </button>
      <button
        type="button"
        className={view === 'placement' ? 'active' : ''}
        aria-pressed={view === 'placement'}
        onClick={() => set('view', 'placement')}
        data-testid="view-placement"
      >
        {t('clusters.viewPlacement')}
      </button>
    </div>
  );
  const toolbar = (
    <div className="inv-filters">
      <DebouncedInput name="q" label={t('clusters.filter.search')} value={filters.q} onCommit={(v) => set('q', v)} />
      {viewSwitch}
    </div>
  );
  return (
    <>
      <FreshnessLine freshness={nodes.freshness} />
      {ops.map((id) => (
        <OperationProgress key={id} clusterId={clusterId} opId={id} onDismiss={() => setOps((list) => list.filter((x) => x !== id))} />
      ))}
      {view === 'table' ? (
        <DataTable<NodeListRow>
          tableKey="cluster.nodes"
          label={t('inventory.table.nodes')}
          columns={columns}
          rows={rows}
          getRowId={(n) => n.name}
          ordering={filters.ordering || null}
          onOrderingChange={(ordering) => set('ordering', ordering ?? '')}
          {...pagingProps(nodes)}
          empty={<span className="muted">{t('clusters.noObjects')}</span>}
          toolbar={toolbar}
          rowTestId={(n) => `node-row-${n.name}`}
          rowClassName={(n) => (n.data.ready ? undefined : 'row-flagged')}
          {...{ rowAttributes: (n: NodeListRow): Record<`data-${string}`, string | undefined> => ({ 'data-ready': String(n.data.ready) }) }}
          testId="nodes-table"
        />
      ) : (
        <>
          <div className="tab-toolbar">{viewSwitch}</div>
          {nodes.isLoading ? (
            <Loading />
          ) : nodes.error ? (
            <ErrorState error={nodes.error} onRetry={nodes.refetch} />
          ) : (
            <PlacementView clusterId={clusterId} nodes={rows} />
          )}
        </>
      )}
      {confirm?.kind === 'drain' && (
        <DrainDialog
          clusterId={clusterId}
          node={confirm.node}
          busy={runOp.isPending}
          error={runOp.error}
          onCancel={() => {
            runOp.reset();
            setConfirm(null);
          }}
          onConfirm={(options) =>
            runOp.mutate(
              { ...confirm, options },
              {
                onSuccess: (op) => {
                  setOps((list) => [op.id, ...list.filter((x) => x !== op.id)]);
                  setConfirm(null);
                },
              },
            )
          }
        />
      )}
      {confirm && confirm.kind !== 'drain' && (
        <ConfirmDialog
          title={t(`clusters.nodeOp.${confirm.kind}`)}
          message={t(`clusters.nodeOpConfirm.${confirm.kind}`, { node: confirm.node })}
          confirmLabel={t(`clusters.nodeOp.${confirm.kind}`)}
          busyLabel={t('clusters.working')}
          busy={runOp.isPending}
          error={runOp.error}
          onCancel={() => {
            runOp.reset();
            setConfirm(null);
          }}
          onConfirm={() =>
            runOp.mutate(confirm, {
              onSuccess: (op) => {
                setOps((list) => [op.id, ...list.filter((x) => x !== op.id)]);
                setConfirm(null);
              },
            })
          }
        />
      )}
    </>
  );
}
