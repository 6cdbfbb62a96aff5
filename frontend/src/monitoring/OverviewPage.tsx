/**
 * /monitoring — the overview. Those who see the infrastructure (admins, operators, auditors) get
 * the fleet chart (CPU and memory: usage against requests, allocatable and capacity) or one
 * cluster's (`?cluster=`), and the top-N tables; members get their workspaces' charts and the list
 * of their service maps. The time range (`?range=`) applies to every chart of the page.
 */
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { useClusters } from '../clusters/queries';
import { useAllServiceMaps, useWorkspaces } from '../workspaces/queries';
import { ChartCard } from './ChartCard';
import { MonitoringPage, RangePicker, TopTable, useRange } from './common';
import { useSeesInfrastructure } from './queries';
import type { RangeChoice } from './range';

/** At most this many workspace charts on the overview (the rest are links). */
export const MAX_WORKSPACE_CHARTS = 6;
/** Service map charts on the overview when a member has at most this many maps (else links). */
export const MAX_SERVICE_MAP_CHARTS = 4;

function FleetOverview({ range }: { range: RangeChoice }) {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const cluster = Number(params.get('cluster')) || undefined;
  const clusters = useClusters({ page_size: 200 });
  const rows = clusters.data?.results ?? [];
  const chosen = rows.find((c) => c.id === cluster);
  const scope = cluster ? { cluster } : {};
  return (
    <>
      <div className="filters">
        <FormField label={t('monitoring.overview.cluster')}>
          <select
            name="cluster"
            data-testid="cluster-picker"
            value={cluster ? String(cluster) : ''}
            onChange={(e) => {
              const next = new URLSearchParams(params);
              if (e.target.value) next.set('cluster', e.target.value);
              else next.delete('cluster');
              setParams(next, { replace: true });
            }}
          >
            <option value="">{t('monitoring.overview.fleet')}</option>
            {rows.map((c) => (
              <option key={c.id} value={String(c.id)}>
                {c.display_name || c.name}
              </option>
            ))}
          </select>
        </FormField>
        {cluster && (
          <Link className="btn btn-small" to={`/monitoring/clusters/${cluster}`} data-testid="open-cluster">
            {t('monitoring.overview.openCluster')}
          </Link>
        )}
      </div>
      <ChartCard
        scope={cluster ? { level: 'cluster', cluster } : { level: 'fleet' }}
        range={range}
        title={chosen ? t('monitoring.cluster.title', { name: chosen.display_name || chosen.name }) : t('monitoring.overview.fleetChart')}
        testId="fleet-chart"
      />
      <div className="grid-2 top-grid">
        <TopTable what="busiest_pods" scope={scope} />
        <TopTable what="nodes_fullest" scope={scope} />
        <TopTable what="pods_near_limit" scope={scope} />
      </div>
      {!cluster && rows.length > 0 && (
        <section className="card" data-testid="overview-clusters">
          <h2 className="card-title">{t('monitoring.overview.clusters')}</h2>
          <ul className="plain-list inline-list">
            {rows.map((c) => (
              <li key={c.id}>
                <Link to={`/monitoring/clusters/${c.id}`}>{c.display_name || c.name}</Link>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

function MemberOverview({ range }: { range: RangeChoice }) {
  const { t } = useTranslation();
  const workspaces = useWorkspaces({});
  const maps = useAllServiceMaps({});
  const wsRows = workspaces.data?.results ?? [];
  const mapRows = maps.data?.results ?? [];
  if (workspaces.isPending) return <Loading />;
  if (wsRows.length === 0) {
    return (
      <EmptyState title={t('monitoring.overview.noWorkspaces')} testId="monitoring-empty">
        <p>{t('monitoring.overview.noWorkspacesHelp')}</p>
      </EmptyState>
    );
  }
  return (
    <>
      {wsRows.slice(0, MAX_WORKSPACE_CHARTS).map((w) => (
        <div key={w.id} className="workspace-chart">
          <ChartCard scope={{ level: 'workspace', workspace: w.id }} range={range} title={w.display_name || w.name} testId={`workspace-chart-${w.id}`} />
          <Link className="small" to={`/monitoring/workspaces/${w.id}`}>
            {t('monitoring.overview.openWorkspace')}
          </Link>
        </div>
      ))}
      {wsRows.length > MAX_WORKSPACE_CHARTS && (
        <section className="card">
          <h2 className="card-title">{t('monitoring.overview.moreWorkspaces')}</h2>
          <ul className="plain-list inline-list">
            {wsRows.slice(MAX_WORKSPACE_CHARTS).map((w) => (
              <li key={w.id}>
                <Link to={`/monitoring/workspaces/${w.id}`}>{w.display_name || w.name}</Link>
              </li>
            ))}
          </ul>
        </section>
      )}
      {mapRows.length > 0 &&
        mapRows.length <= MAX_SERVICE_MAP_CHARTS &&
        mapRows.map((m) => (
          <div key={m.id} className="workspace-chart">
            <ChartCard
              scope={{ level: 'servicemap', service_map: m.id }}
              range={range}
              title={t('monitoring.serviceMap.title', { name: m.display_name || m.namespace })}
              testId={`servicemap-chart-${m.id}`}
            />
            <Link className="small" to={`/monitoring/servicemaps/${m.id}`}>
              {t('monitoring.overview.openServiceMap')}
            </Link>
          </div>
        ))}
      <section className="card" data-testid="overview-servicemaps">
        <h2 className="card-title">{t('monitoring.overview.serviceMaps')}</h2>
        {mapRows.length === 0 && !maps.isPending && <p className="muted empty-line">{t('monitoring.workspace.noServiceMaps')}</p>}
        <ul className="plain-list">
          {mapRows.map((m) => (
            <li key={m.id}>
              <Link to={`/monitoring/servicemaps/${m.id}`}>{m.display_name || m.namespace}</Link>{' '}
              <span className="muted small">
                {m.workspace.display_name || m.workspace.name} · {m.cluster.name}/{m.namespace}
              </span>
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}

export function OverviewPage() {
  const { t } = useTranslation();
  const [range, setRange] = useRange();
  const { known, sees } = useSeesInfrastructure();
  return (
    <MonitoringPage title={t('monitoring.title')} testId="monitoring-overview">
      <RangePicker value={range} onChange={setRange} />
      {!known && <Loading />}
      {known && (sees ? <FleetOverview range={range} /> : <MemberOverview range={range} />)}
    </MonitoringPage>
  );
}
