/**
 * /clusters/:id/:tab — one cluster: a header with status, version, freshness, missing
 * permissions and per-kind sync states, admin actions, and the inventory tabs. Everything on
 * the page is kept live from the `cluster.<id>` group.
 */
import { useMemo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, NavLink, useParams } from 'react-router-dom';
import { useMe } from '../auth/queries';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { DataTable, type ColumnDef } from '../components/table';
import { ApiError } from '../api/errors';
import { apiErrorText, clusterStatusText, codeKey, messageText, type ClusterStatusMessage } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { FreshnessBadge, StatusBadge, SyncBadge } from './badges';
import { ClusterSettings } from './ClusterSettings';
import { cores, gb, relativeTime, useNow } from './format';
import { useClusterLive } from './live';
import { useCheckCluster, useCluster } from './queries';
import { PermissionsPanel } from './PermissionsPanel';
import { createPath } from '../objects/paths';
import { Timeline } from '../activity/Timeline';
import { NodesTab } from './tabs/NodesTab';
import { PodsTab } from './tabs/PodsTab';
import { ResourcesTab } from './tabs/ResourcesTab';
import {
  ClaimsTab,
  EventsTab,
  IngressesTab,
  NamespacesTab,
  ServicesTab,
  StorageClassesTab,
  VolumesTab,
  WorkloadsTab,
} from './tabs/SimpleTabs';
import type { ClusterDetail } from './types';
import { PROVISIONING_TAB, ProvisioningTabLink, ProvisioningTabPanel } from '../provisioning/clusterTab';

export const TABS = [
  'nodes',
  'namespaces',
  'workloads',
  'pods',
  'services',
  'ingresses',
  'volumes',
  'claims',
  'storageclasses',
  'events',
  'resources',
  'timeline',
] as const;
export type Tab = (typeof TABS)[number];

function TabContent({ tab, clusterId }: { tab: Tab; clusterId: number }) {
  switch (tab) {
    case 'nodes':
      return <NodesTab clusterId={clusterId} />;
    case 'namespaces':
      return <NamespacesTab clusterId={clusterId} />;
    case 'workloads':
      return <WorkloadsTab clusterId={clusterId} />;
    case 'pods':
      return <PodsTab clusterId={clusterId} />;
    case 'services':
      return <ServicesTab clusterId={clusterId} />;
    case 'ingresses':
      return <IngressesTab clusterId={clusterId} />;
    case 'volumes':
      return <VolumesTab clusterId={clusterId} />;
    case 'claims':
      return <ClaimsTab clusterId={clusterId} />;
    case 'storageclasses':
      return <StorageClassesTab clusterId={clusterId} />;
    case 'events':
      return <EventsTab clusterId={clusterId} />;
    case 'resources':
      return <ResourcesTab clusterId={clusterId} />;
    case 'timeline':
      return <Timeline scope={{ cluster: clusterId }} />;
  }
}

type Sync = ClusterDetail['syncs'][number];

/** Per-kind sync state of the watcher, on the console's table (`cluster.syncs`). */
function SyncTable({ syncs }: { syncs: Sync[] }) {
  const { t, i18n } = useTranslation();
  const now = useNow();
  const columns = useMemo<ColumnDef<Sync, unknown>[]>(() => {
    const column = (id: string, label: string, cell: (x: Sync) => ReactNode, meta: { align?: 'end'; priority?: 1 | 2 | 3; className?: string } = {}) => ({
      id,
      header: label,
      cell: ({ row }: { row: { original: Sync } }) => cell(row.original),
      meta: { label, ...meta },
    });
    return [
      column('kind', t('clusters.col.kind'), (x) => x.kind),
      column('state', t('clusters.col.state'), (x) => <SyncBadge state={x.state} />),
      column('objects', t('clusters.col.objects'), (x) => x.object_count, { align: 'end' }),
      column('last_event', t('clusters.col.lastEvent'), (x) => relativeTime(x.last_event, now, i18n.language) ?? '—', { priority: 2 }),
      column(
        'relists',
        t('clusters.col.relists'),
        (x) => (
          <span className="small" data-testid={`relists-${x.kind}`} data-relists={x.relists}>
            {x.relists > 0
              ? t('clusters.relists', {
                  count: x.relists,
                  reason: x.last_relist_reason ? t(`clusters.relistReason.${x.last_relist_reason}` as 'clusters.relistReason.gone') : '',
                  when: relativeTime(x.last_relist_at, now, i18n.language) ?? '—',
                })
              : '—'}
          </span>
        ),
        { priority: 3 },
      ),
      column('message', t('clusters.col.message'), (x) => <span className="small">{messageText(t, x)}</span>, { priority: 2 }),
    ];
  }, [t, i18n.language, now]);
  return (
    <DataTable<Sync>
      tableKey="cluster.syncs"
      label={t('clusters.syncTitle')}
      columns={columns}
      rows={syncs}
      getRowId={(x) => x.kind}
      rowTestId={(x) => `sync-${x.kind}`}
      {...{ rowAttributes: (x: Sync): Record<`data-${string}`, string | undefined> => ({ 'data-state': x.state }) }}
      testId="sync-table"
      maxHeight="none"
    />
  );
}

function Header({ cluster }: { cluster: ClusterDetail }) {
  const { t, i18n } = useTranslation();
  const me = useMe();
  const now = useNow();
  const check = useCheckCluster(cluster.id);
  const s = cluster.summary ?? {};
  return (
    <section className="card cluster-header" data-testid="cluster-header" data-status={cluster.status}>
      <div className="cluster-title">
        <div>
          <h1>
            {cluster.display_name || cluster.name} <StatusBadge status={cluster.status} message={clusterStatusText(t, cluster)} />
          </h1>
          <p className="muted mono small">
            {cluster.name} · {cluster.server}
          </p>
        </div>
        {/* Infrastructure charts are for those who read every cluster (admins, operators, auditors). */}
        {me.data && (me.data.is_admin || ['operator', 'auditor'].includes(me.data.role as string)) && (
          <Link className="btn btn-small" to={`/monitoring/clusters/${cluster.id}`} data-testid="open-charts">
            {t('monitoring.openCharts')}
          </Link>
        )}
        {/* Auditors read and never change anything; everyone else may create where their grants allow. */}
        {me.data && (me.data.role as string) !== 'auditor' && (
          <Link className="btn btn-small cluster-create-button" to={createPath(cluster.id)} data-testid="create-objects">
            {t('objects.createButton')}
          </Link>
        )}
        {me.data?.is_admin && (
          <div className="header-actions">
            <button type="button" className="btn btn-small" data-testid="recheck" disabled={check.isPending} onClick={() => check.mutate()}>
              {check.isPending ? t('clusters.working') : t('clusters.recheck')}
            </button>
            <ClusterSettings cluster={cluster} />
          </div>
        )}
      </div>
      {check.isSuccess && <p className="small muted" role="status">{t('clusters.recheckQueued')}</p>}
      {check.error && <p className="alert alert-error">{apiErrorText(t, check.error)}</p>}
      {cluster.status_message && (cluster.status !== 'connected' || cluster.status_code === 'connected_partial') && (
        <p className="alert alert-warning" data-testid="status-message" data-code={cluster.status_code}>
          {/* A translated message (by its message_code) names the problem itself; an older row gets the label. */}
          {!codeKey((cluster as ClusterStatusMessage).message_code) && cluster.status_code && i18n.exists(`clusters.code.${cluster.status_code}`) && (
            <strong>{t(`clusters.code.${cluster.status_code}` as 'clusters.code.unreachable')} </strong>
          )}
          {clusterStatusText(t, cluster)}
        </p>
      )}
      {cluster.missing_permissions?.length > 0 && (
        <div className="alert alert-warning" data-testid="missing-permissions">
          <div>
            <strong>{t('clusters.missingPermissions', { count: cluster.missing_permissions.length })}</strong>
            <ul className="plain-list mono small">
              {cluster.missing_permissions.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          </div>
        </div>
      )}
      <dl className="facts">
        <div>
          <dt>{t('clusters.col.version')}</dt>
          <dd className="mono" data-testid="cluster-version">
            {cluster.kubernetes_version || '—'}
          </dd>
        </div>
        <div>
          <dt>{t('clusters.col.lastSync')}</dt>
          <dd>
            <FreshnessBadge cluster={cluster} now={now} />
          </dd>
        </div>
        <div>
          <dt>{t('clusters.field.provider')}</dt>
          <dd>
            {t(`clusters.provider.${cluster.provider}`)} {cluster.region && `· ${cluster.region}`}
          </dd>
        </div>
        <div>
          <dt>{t('clusters.field.stage')}</dt>
          <dd>{t(`clusters.stage.${cluster.stage}`)}</dd>
        </div>
        <div>
          <dt>{t('clusters.col.nodes')}</dt>
          <dd>{s.nodes_total !== undefined ? `${s.nodes_ready ?? 0}/${s.nodes_total}` : '—'}</dd>
        </div>
        <div>
          <dt>{t('clusters.col.pods')}</dt>
          <dd>{s.pods ? `${s.pods.running}/${s.pods.total}/${s.pods.capacity}` : '—'}</dd>
        </div>
        <div>
          <dt title={t('clusters.reqAlloc')}>
            {t('clusters.col.cpu')} <span className="small">({t('clusters.reqAlloc')})</span>
          </dt>
          <dd>{s.cpu ? `${cores(s.cpu.requested)} / ${cores(s.cpu.allocatable)}` : '—'}</dd>
        </div>
        <div>
          <dt title={t('clusters.reqAlloc')}>
            {t('clusters.col.memory')} <span className="small">({t('clusters.reqAlloc')})</span>
          </dt>
          <dd>{s.memory ? `${gb(s.memory.requested)} / ${gb(s.memory.allocatable)}` : '—'}</dd>
        </div>
        <div>
          <dt>{t('clusters.lastChecked')}</dt>
          <dd>{relativeTime(cluster.last_checked, now, i18n.language) ?? t('common.never')}</dd>
        </div>
      </dl>
      {Object.keys(cluster.labels ?? {}).length > 0 && (
        <p className="chips">
          {Object.entries(cluster.labels).map(([k, v]) => (
            <span className="chip small" key={k}>
              {k}={v}
            </span>
          ))}
        </p>
      )}
      {cluster.syncs?.length > 0 && (
        <details className="syncs" open={cluster.syncs.some((x) => x.state !== 'synced')}>
          <summary>{t('clusters.syncTitle')}</summary>
          <SyncTable syncs={cluster.syncs} />
        </details>
      )}
      <PermissionsPanel permissions={cluster.permissions} />
    </section>
  );
}

export function ClusterDetailPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const tab: Tab = TABS.find((x) => x === params.tab) ?? 'nodes';
  const provisioningTab = params.tab === PROVISIONING_TAB; // only for provisioned clusters (issue 17)
  const cluster = useCluster(id);
  useClusterLive(id);
  if (!Number.isInteger(id)) return <NotFound />;
  if (cluster.isError && cluster.error instanceof ApiError && cluster.error.status === 404) return <NotFound />;
  return (
    <section className="page page-wide" data-testid="cluster-page">
      <p className="muted small breadcrumbs">
        <Link to="/clusters">{t('nav.clusters')}</Link> / {cluster.data?.name ?? id}
      </p>
      {cluster.isPending && <Loading />}
      {cluster.isError && <ErrorState error={cluster.error} onRetry={() => void cluster.refetch()} />}
      {cluster.data && <Header cluster={cluster.data} />}
      <nav className="tabs" aria-label={t('clusters.tabsLabel')}>
        {TABS.map((x) => (
          <NavLink
            key={x}
            to={`/clusters/${id}/${x}`}
            className={() => (x === tab && !provisioningTab ? 'tab active' : 'tab')}
            aria-current={x === tab && !provisioningTab ? 'page' : undefined}
            data-testid={`tab-${x}`}
          >
            {x === 'timeline' ? t('timeline.tab') : t(`clusters.tab.${x}`)}
          </NavLink>
        ))}
        <ProvisioningTabLink clusterId={id} active={provisioningTab} />
      </nav>
      <section className="card tab-panel" data-testid={`panel-${provisioningTab ? PROVISIONING_TAB : tab}`}>
        {provisioningTab ? <ProvisioningTabPanel clusterId={id} /> : <TabContent tab={tab} clusterId={id} />}
      </section>
    </section>
  );
}
