/**
 * Nodes of a cluster: conditions, roles, capacity / allocatable / requested bars, pods per node,
 * taints and cordoned state, with cordon / uncordon / drain (a confirmation names the node, then
 * live progress from node_operation.updated). A placement view draws each node's pods as
 * squares coloured by status.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { useMe } from '../../auth/queries';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { ErrorState } from '../../components/ErrorState';
import { Loading } from '../../components/Loading';
import { UsageBar } from '../../components/UsageBar';
import { messageText } from '../../lib/messages';
import { phaseTone } from '../badges';
import { bytesHuman, cores } from '../format';
import { useInventory, useNodeOperation, useOperation } from '../queries';
import type { NodeListRow, NodeOperationKind, PodRow } from '../types';
import { DrainDialog } from './DrainDialog';
import { FreshnessLine } from './InventoryTable';
import { podPath } from './PodsTab';
import { useUrlFilters } from './SimpleTabs';

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

function NodeTable({ nodes, canOperate, onRun }: { nodes: NodeListRow[]; canOperate: boolean; onRun: (node: string, kind: NodeOperationKind) => void }) {
  const { t } = useTranslation();
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="nodes-table">
        <thead>
          <tr>
            <th scope="col">{t('clusters.col.name')}</th>
            <th scope="col">{t('clusters.col.status')}</th>
            <th scope="col" title={t('clusters.capAllocReq')}>
              {t('clusters.col.cpu')}
            </th>
            <th scope="col" title={t('clusters.capAllocReq')}>
              {t('clusters.col.memoryShort')}
            </th>
            <th scope="col">{t('clusters.col.pods')}</th>
            <th scope="col">{t('clusters.col.taints')}</th>
            <th scope="col">{t('clusters.col.version')}</th>
            {canOperate && <th scope="col" className="actions-col">{t('clusters.col.actions')}</th>}
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => {
            const d = n.data;
            const bad = badConditions(n);
            return (
              <tr key={n.name} data-testid={`node-row-${n.name}`} data-ready={d.ready} className={d.ready ? undefined : 'row-flagged'}>
                <td>
                  <span className="mono">{n.name}</span>
                  <div className="muted small">
                    {(d.roles ?? []).join(', ') || t('clusters.worker')}
                    {d.internal_ip ? ` · ${d.internal_ip}` : ''}
                    {d.zone ? ` · ${d.zone}` : ''}
                  </div>
                </td>
                <td>
                  <span className={`badge ${d.ready ? 'tone-ok' : 'tone-bad'}`}>{d.ready ? 'Ready' : 'NotReady'}</span>{' '}
                  {d.unschedulable && (
                    <span className="badge tone-warn" data-testid="cordoned">
                      {t('clusters.cordoned')}
                    </span>
                  )}
                  {bad.map((c) => (
                    <div key={c.type} className="small bad-text" title={c.message}>
                      {c.type}={c.status} {c.reason && `(${c.reason})`}
                    </div>
                  ))}
                </td>
                <td className="num">
                  {cores(d.capacity?.cpu)} / {cores(d.allocatable?.cpu)} / {cores(n.requests?.cpu)}
                  <UsageBar
                    capacity={d.capacity?.cpu}
                    allocatable={d.allocatable?.cpu}
                    requested={n.requests?.cpu}
                    label={t('clusters.cpuBar', { req: cores(n.requests?.cpu), cap: cores(d.capacity?.cpu) })}
                  />
                </td>
                <td className="num">
                  {bytesHuman(d.capacity?.memory)} / {bytesHuman(d.allocatable?.memory)} / {bytesHuman(n.requests?.memory)}
                  <UsageBar
                    capacity={d.capacity?.memory}
                    allocatable={d.allocatable?.memory}
                    requested={n.requests?.memory}
                    label={t('clusters.memBar', { req: bytesHuman(n.requests?.memory), cap: bytesHuman(d.capacity?.memory) })}
                  />
                </td>
                <td className="num" data-testid="node-pods">
                  {n.pod_count ?? '—'} / {d.allocatable?.pods ?? d.capacity?.pods ?? '—'}
                </td>
                <td>
                  {(d.taints ?? []).length === 0 ? (
                    <span className="muted">—</span>
                  ) : (
                    (d.taints ?? []).map((taint) => (
                      <div key={`${taint.key}:${taint.effect}`} className="mono small">
                        {taint.key}
                        {taint.value ? `=${taint.value}` : ''}:{taint.effect}
                      </div>
                    ))
                  )}
                </td>
                <td className="mono small">{d.kubelet_version}</td>
                {canOperate && (
                  <td className="actions-col">
                    <NodeActions node={n} onRun={(kind) => onRun(n.name, kind)} />
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
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
  const [filters, set] = useUrlFilters(['view'] as const);
  const view = filters.view === 'placement' ? 'placement' : 'table';
  const nodes = useInventory<'Node'>(clusterId, 'nodes', {}, { pageSize: 500 });
  const runOp = useNodeOperation(clusterId);
  const [confirm, setConfirm] = useState<{ node: string; kind: NodeOperationKind } | null>(null);
  const [ops, setOps] = useState<number[]>([]);

  if (nodes.isPending) return <Loading />;
  if (nodes.isError) return <ErrorState error={nodes.error} onRetry={() => void nodes.refetch()} />;
  // /nodes/ rows add `requests` and `pod_count` beside `data` (NodePage in the schema).
  const rows = nodes.data.pages.flatMap((p) => p.results) as NodeListRow[];
  return (
    <>
      <div className="tab-toolbar">
        <FreshnessLine page={nodes.data.pages[0]} />
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
      </div>
      {ops.map((id) => (
        <OperationProgress key={id} clusterId={clusterId} opId={id} onDismiss={() => setOps((list) => list.filter((x) => x !== id))} />
      ))}
      {rows.length === 0 ? (
        <p className="muted empty-line">{t('clusters.noObjects')}</p>
      ) : view === 'table' ? (
        <NodeTable nodes={rows} canOperate={canOperate} onRun={(node, kind) => setConfirm({ node, kind })} />
      ) : (
        <PlacementView clusterId={clusterId} nodes={rows} />
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
