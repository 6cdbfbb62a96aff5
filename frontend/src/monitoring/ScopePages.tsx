/**
 * The chart pages of one scope:
 *   /monitoring/clusters/:id                                         cluster (+ nodes, top-N)
 *   /monitoring/clusters/:id/nodes/:node                             node
 *   /monitoring/workspaces/:id                                       workspace (+ service maps)
 *   /monitoring/servicemaps/:id                                      service map (+ workloads)
 *   /monitoring/clusters/:id/workloads/:namespace/:kind/:name        workload (+ pods)
 *   /monitoring/clusters/:id/pods/:namespace/:name[?container=]      pod or one container
 * Each shows the time range picker and the scope's ChartCard (series, markers, freshness).
 */
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { FormField } from '../components/FormField';
import { useQuery } from '@tanstack/react-query';
import { clustersApi } from '../clusters/api';
import { clusterKey, useInventory } from '../clusters/queries';
import type { NodeData, PodData } from '../clusters/types';
import { useAllServiceMaps, useServiceMaps, useWorkspace } from '../workspaces/queries';
import { ChartCard } from './ChartCard';
import { MonitoringPage, RangePicker, TopTable, useRange } from './common';
import { coresText, bytesText } from './format';
import { useSeesInfrastructure } from './queries';

const seg = encodeURIComponent;

function Crumb({ to, children }: { to?: string; children: string }) {
  return (
    <>
      {' / '}
      {to ? <Link to={to}>{children}</Link> : <span>{children}</span>}
    </>
  );
}

function useClusterName(id: number, enabled = true): string {
  const cluster = useQuery({ queryKey: clusterKey(id), queryFn: ({ signal }) => clustersApi.get(id, signal), enabled: enabled && id > 0, retry: false });
  return cluster.data?.display_name || cluster.data?.name || `#${id}`;
}

function EventsLink({ query }: { query: Record<string, string | number> }) {
  const { t } = useTranslation();
  const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  return (
    <Link className="btn btn-small" to={`/monitoring/events?${params.toString()}`} data-testid="events-link">
      {t('monitoring.events.open')}
    </Link>
  );
}

export function ClusterChartsPage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const [range, setRange] = useRange();
  const name = useClusterName(id);
  const nodes = useInventory<'Node'>(id, 'nodes', {});
  const nodeRows = nodes.data?.pages.flatMap((p) => p.results) ?? [];
  return (
    <MonitoringPage title={t('monitoring.cluster.title', { name })} crumbs={<Crumb>{name}</Crumb>} testId="monitoring-cluster" actions={<EventsLink query={{ cluster: id }} />}>
      <RangePicker value={range} onChange={setRange} />
      <ChartCard scope={{ level: 'cluster', cluster: id }} range={range} title={t('monitoring.cluster.chart')} testId="cluster-chart" />
      <div className="grid-2 top-grid">
        <TopTable what="nodes_fullest" scope={{ cluster: id }} />
        <TopTable what="busiest_pods" scope={{ cluster: id }} />
        <TopTable what="pods_near_limit" scope={{ cluster: id }} />
      </div>
      <section className="card" data-testid="cluster-nodes">
        <h2 className="card-title">{t('monitoring.cluster.nodes')}</h2>
        {nodeRows.length === 0 && !nodes.isPending && <p className="muted empty-line">{t('monitoring.cluster.noNodes')}</p>}
        {nodeRows.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense">
              <thead>
                <tr>
                  <th scope="col">{t('monitoring.col.node')}</th>
                  <th scope="col" className="num">{t('monitoring.col.cpuAllocatable')}</th>
                  <th scope="col" className="num">{t('monitoring.col.memAllocatable')}</th>
                </tr>
              </thead>
              <tbody>
                {nodeRows.map((n) => {
                  const data = n.data as Partial<NodeData>;
                  return (
                    <tr key={n.name} data-testid={`node-row-${n.name}`}>
                      <td className="mono">
                        <Link to={`/monitoring/clusters/${id}/nodes/${seg(n.name)}`}>{n.name}</Link>
                      </td>
                      <td className="num small">{coresText(data.allocatable?.cpu)}</td>
                      <td className="num small">{bytesText(data.allocatable?.memory)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </MonitoringPage>
  );
}

export function NodeChartsPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const node = params.node ?? '';
  const [range, setRange] = useRange();
  const name = useClusterName(id);
  return (
    <MonitoringPage
      title={t('monitoring.node.title', { name: node })}
      crumbs={
        <>
          <Crumb to={`/monitoring/clusters/${id}`}>{name}</Crumb>
          <Crumb>{node}</Crumb>
        </>
      }
      testId="monitoring-node"
      actions={<EventsLink query={{ cluster: id, object_kind: 'Node', object_name: node }} />}
    >
      <RangePicker value={range} onChange={setRange} />
      <ChartCard scope={{ level: 'node', cluster: id, node }} range={range} title={t('monitoring.node.chart')} testId="node-chart" />
    </MonitoringPage>
  );
}

export function WorkspaceChartsPage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const [range, setRange] = useRange();
  const workspace = useWorkspace(id);
  const maps = useServiceMaps(id);
  const name = workspace.data?.display_name || workspace.data?.name || `#${id}`;
  const rows = maps.data?.results ?? [];
  return (
    <MonitoringPage title={t('monitoring.workspace.title', { name })} crumbs={<Crumb>{name}</Crumb>} testId="monitoring-workspace">
      <RangePicker value={range} onChange={setRange} />
      <ChartCard scope={{ level: 'workspace', workspace: id }} range={range} title={t('monitoring.workspace.chart')} testId="workspace-chart" />
      <div className="grid-2 top-grid">
        <TopTable what="busiest_pods" scope={{ workspace: id }} />
        <TopTable what="pods_near_limit" scope={{ workspace: id }} />
      </div>
      <section className="card" data-testid="workspace-servicemaps">
        <h2 className="card-title">{t('monitoring.workspace.serviceMaps')}</h2>
        {rows.length === 0 && !maps.isPending && <p className="muted empty-line">{t('monitoring.workspace.noServiceMaps')}</p>}
        <ul className="plain-list">
          {rows.map((m) => (
            <li key={m.id}>
              <Link to={`/monitoring/servicemaps/${m.id}`}>{m.display_name || m.namespace}</Link>{' '}
              <span className="muted small">
                {m.cluster.name}/{m.namespace}
              </span>
            </li>
          ))}
        </ul>
      </section>
    </MonitoringPage>
  );
}

export function ServiceMapChartsPage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const [range, setRange] = useRange();
  const maps = useAllServiceMaps({});
  const map = (maps.data?.results ?? []).find((m) => m.id === id);
  const workloads = useInventory<'Deployment'>(map?.cluster.id ?? 0, 'workloads', { namespace: map?.namespace ?? '' }, { enabled: map !== undefined });
  const rows = workloads.data?.pages.flatMap((p) => p.results) ?? [];
  const name = map ? map.display_name || map.namespace : `#${id}`;
  return (
    <MonitoringPage
      title={t('monitoring.serviceMap.title', { name })}
      crumbs={
        <>
          {map && <Crumb to={`/monitoring/workspaces/${map.workspace.id}`}>{map.workspace.display_name || map.workspace.name}</Crumb>}
          <Crumb>{name}</Crumb>
        </>
      }
      testId="monitoring-servicemap"
      actions={map ? <EventsLink query={{ service_map: id }} /> : undefined}
    >
      <RangePicker value={range} onChange={setRange} />
      <ChartCard scope={{ level: 'servicemap', service_map: id }} range={range} title={t('monitoring.serviceMap.chart')} testId="servicemap-chart" pointPanels />
      <div className="grid-2 top-grid">
        <TopTable what="busiest_pods" scope={{ service_map: id }} />
        <TopTable what="pods_near_limit" scope={{ service_map: id }} />
      </div>
      {map && (
        <section className="card" data-testid="servicemap-workloads">
          <h2 className="card-title">{t('monitoring.serviceMap.workloads')}</h2>
          {rows.length === 0 && !workloads.isPending && <p className="muted empty-line">{t('monitoring.serviceMap.noWorkloads')}</p>}
          <ul className="plain-list">
            {rows
              .filter((w) => w.kind !== 'ReplicaSet')
              .map((w) => (
                <li key={`${w.kind}/${w.name}`}>
                  <Link to={`/monitoring/clusters/${map.cluster.id}/workloads/${seg(w.namespace)}/${seg(w.kind)}/${seg(w.name)}`}>
                    {w.kind}/{w.name}
                  </Link>
                </li>
              ))}
          </ul>
        </section>
      )}
    </MonitoringPage>
  );
}

export function WorkloadChartsPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const namespace = params.namespace ?? '';
  const kind = params.kind ?? '';
  const name = params.name ?? '';
  const [range, setRange] = useRange();
  const { sees } = useSeesInfrastructure();
  const clusterName = useClusterName(id, sees);
  const pods = useInventory<'Pod'>(id, 'pods', { namespace, name_prefix: name });
  const rows = pods.data?.pages.flatMap((p) => p.results) ?? [];
  return (
    <MonitoringPage
      title={t('monitoring.workload.title', { kind, name })}
      crumbs={
        <>
          {sees && <Crumb to={`/monitoring/clusters/${id}`}>{clusterName}</Crumb>}
          <Crumb>{`${namespace}/${kind}/${name}`}</Crumb>
        </>
      }
      testId="monitoring-workload"
      actions={<EventsLink query={{ cluster: id, namespace, object_name: name }} />}
    >
      <RangePicker value={range} onChange={setRange} />
      <ChartCard scope={{ level: 'workload', cluster: id, namespace, workload_kind: kind, workload_name: name }} range={range} title={t('monitoring.workload.chart')} testId="workload-chart" pointPanels />
      <section className="card" data-testid="workload-pods">
        <h2 className="card-title">{t('monitoring.workload.pods')}</h2>
        {rows.length === 0 && !pods.isPending && <p className="muted empty-line">{t('monitoring.workload.noPods')}</p>}
        <ul className="plain-list">
          {rows.map((p) => (
            <li key={p.name}>
              <Link to={`/monitoring/clusters/${id}/pods/${seg(p.namespace)}/${seg(p.name)}`} className="mono">
                {p.name}
              </Link>
            </li>
          ))}
        </ul>
      </section>
    </MonitoringPage>
  );
}

export function PodChartsPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const namespace = params.namespace ?? '';
  const name = params.name ?? '';
  const [search, setSearch] = useSearchParams();
  const container = search.get('container') ?? '';
  const [range, setRange] = useRange();
  const { sees } = useSeesInfrastructure();
  const clusterName = useClusterName(id, sees);
  const pods = useInventory<'Pod'>(id, 'pods', { namespace, name_prefix: name });
  const pod = pods.data?.pages.flatMap((p) => p.results).find((p) => p.name === name);
  const containers = ((pod?.data as Partial<PodData> | undefined)?.containers ?? []).map((c) => c.name);
  const scope = container
    ? ({ level: 'container', cluster: id, namespace, pod: name, container } as const)
    : ({ level: 'pod', cluster: id, namespace, pod: name } as const);
  return (
    <MonitoringPage
      title={t('monitoring.pod.title', { name })}
      crumbs={
        <>
          {sees && <Crumb to={`/monitoring/clusters/${id}`}>{clusterName}</Crumb>}
          <Crumb>{`${namespace}/${name}`}</Crumb>
        </>
      }
      testId="monitoring-pod"
      actions={<EventsLink query={{ cluster: id, namespace, object_kind: 'Pod', object_name: name }} />}
    >
      <div className="filters">
        <RangePicker value={range} onChange={setRange} />
        {containers.length > 1 && (
          <FormField label={t('monitoring.pod.container')}>
            <select
              name="container"
              data-testid="container-picker"
              value={container}
              onChange={(e) => {
                const next = new URLSearchParams(search);
                if (e.target.value) next.set('container', e.target.value);
                else next.delete('container');
                setSearch(next, { replace: true });
              }}
            >
              <option value="">{t('monitoring.pod.allContainers')}</option>
              {containers.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </FormField>
        )}
      </div>
      <ChartCard scope={scope} range={range} title={container ? t('monitoring.pod.containerChart', { container }) : t('monitoring.pod.chart')} testId="pod-chart" pointPanels />
    </MonitoringPage>
  );
}
