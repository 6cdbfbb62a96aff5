/**
 * /workspaces/:id/servicemaps/:sid — one service map: its namespace and state, quota use, share
 * editing and deletion (202 → deleting), and the objects in its namespace (workloads, pods,
 * services, events) read from the clusters inventory API. The service map row is kept live from
 * `workspace.<id>`; the object lists from `cluster.<cid>.ns.<namespace>` (InventoryTable joins it).
 * The `releases` tab lists the catalog releases installed into it (src/catalog/ReleasesTable.tsx).
 */
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, NavLink, useNavigate, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { TypeToConfirmDialog } from '../components/TypeToConfirmDialog';
import { PhaseBadge } from '../clusters/badges';
import { relativeTime, useNow } from '../clusters/format';
import { Timeline } from '../activity/Timeline';
import { EventsTab } from '../clusters/tabs/SimpleTabs';
import { InventoryTable } from '../clusters/tabs/InventoryTable';
import { ReleasesTable } from '../catalog/ReleasesTable';
import { AutoscalingTab } from '../config/AutoscalingTab';
import { ConfigTab } from '../config/ConfigTab';
import { SavePackageButton } from '../config/SavePackageButton';
import { messageText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { ObjectActions } from '../objects/ObjectActions';
import { POD_LOGS_ANCHOR, POD_TERMINAL_ANCHOR, podPath } from '../clusters/tabs/PodsTab';
import { refOfRow } from '../objects/paths';
import { QuotaBars, StateBadge } from './common';
import { useWorkspaceLive } from './live';
import { orderedKeys } from './quantity';
import { useDeleteServiceMap, useServiceMap, useWorkspace, useWorkspaceAccess } from './queries';
import { EditShareDialog } from './ServiceMapDialogs';
import { MoveAction } from '../moves/MoveAction';
import type { ServiceMap, ServiceMapDeletion } from './types';

export const SERVICEMAP_TABS = ['workloads', 'pods', 'services', 'events', 'releases', 'config', 'autoscaling', 'timeline'] as const;
type SmTab = (typeof SERVICEMAP_TABS)[number];

function Age({ iso }: { iso: string | null }) {
  const { i18n } = useTranslation();
  const now = useNow(30_000);
  return <span title={iso ?? undefined}>{relativeTime(iso, now, i18n.language) ?? '—'}</span>;
}

function ObjectsTab({ tab, clusterId, namespace, serviceMapId }: { tab: SmTab; clusterId: number; namespace: string; serviceMapId: number }) {
  const { t } = useTranslation();
  const params = { namespace };
  switch (tab) {
    case 'releases':
      return <ReleasesTable query={{ service_map: serviceMapId }} showServiceMap={false} />;
    case 'config':
      return <ConfigTab serviceMapId={serviceMapId} />;
    case 'autoscaling':
      return <AutoscalingTab clusterId={clusterId} namespace={namespace} serviceMapId={serviceMapId} />;
    case 'timeline':
      return <Timeline scope={{ serviceMap: serviceMapId }} />;
    case 'workloads':
      return (
        <InventoryTable<'Deployment'>
          clusterId={clusterId}
          resource="workloads"
          params={params}
          testId="workloads-table"
          rowTestId={(r) => `workload-row-${r.kind}-${r.namespace}-${r.name}`}
          columns={[
            { key: 'kind', header: t('clusters.col.kind'), render: (r) => r.kind },
            { key: 'name', header: t('clusters.col.name'), render: (r) => <span className="mono">{r.name}</span> },
            { key: 'status', header: t('clusters.col.status'), render: (r) => <PhaseBadge text={r.phase} /> },
            {
              key: 'replicas',
              header: t('clusters.col.replicas'),
              render: (r) => (r.kind === 'CronJob' ? (r.data.schedule ?? '') : `${r.data.ready_replicas ?? r.data.succeeded ?? 0}/${r.data.replicas ?? r.data.completions ?? 0}`),
              className: 'num',
            },
            { key: 'images', header: t('clusters.col.images'), render: (r) => <span className="mono small wrap-any">{(r.data.images ?? []).join(', ')}</span> },
            { key: 'age', header: t('clusters.col.age'), render: (r) => <Age iso={r.created} />, className: 'nowrap' },
            {
              key: 'actions',
              header: t('objects.actions'),
              render: (r) => {
                const ref = refOfRow(r);
                return ref ? <ObjectActions clusterId={clusterId} objectRef={{ ...ref, kind: r.kind }} replicas={r.data.replicas ?? null} /> : null;
              },
            },
          ]}
        />
      );
    case 'pods':
      return (
        <InventoryTable<'Pod'>
          clusterId={clusterId}
          resource="pods"
          params={params}
          testId="pods-table"
          rowTestId={(r) => `pod-row-${r.namespace}/${r.name}`}
          columns={[
            {
              key: 'name',
              header: t('clusters.col.name'),
              render: (r) => (
                <Link className="mono" to={`/clusters/${clusterId}/pods/${r.namespace}/${r.name}`}>
                  {r.name}
                </Link>
              ),
            },
            { key: 'status', header: t('clusters.col.status'), render: (r) => <PhaseBadge text={r.data.status_text || r.phase} /> },
            { key: 'ready', header: t('workspaces.servicemap.ready'), render: (r) => r.data.ready, className: 'num' },
            { key: 'restarts', header: t('workspaces.servicemap.restarts'), render: (r) => r.data.restarts, className: 'num' },
            { key: 'node', header: t('workspaces.servicemap.node'), render: (r) => <span className="mono small">{r.node_name || '—'}</span> },
            { key: 'age', header: t('clusters.col.age'), render: (r) => <Age iso={r.created} />, className: 'nowrap' },
            {
              key: 'actions',
              header: t('objects.actions'),
              render: (r) => (
                <ObjectActions
                  clusterId={clusterId}
                  objectRef={{ group: 'core', version: 'v1', plural: 'pods', kind: 'Pod', namespace: r.namespace, name: r.name }}
                  links={[
                    { key: 'logs', label: t('logs.title'), to: `${podPath(clusterId, r)}#${POD_LOGS_ANCHOR}`, grant: 'pods.logs' },
                    { key: 'terminal', label: t('terminal.title'), to: `${podPath(clusterId, r)}#${POD_TERMINAL_ANCHOR}`, grant: 'pods.exec' },
                  ]}
                />
              ),
            },
          ]}
        />
      );
    case 'services':
      return (
        <InventoryTable<'Service'>
          clusterId={clusterId}
          resource="services"
          params={params}
          testId="services-table"
          rowTestId={(r) => `service-row-${r.name}`}
          columns={[
            { key: 'name', header: t('clusters.col.name'), render: (r) => <span className="mono">{r.name}</span> },
            { key: 'type', header: t('clusters.col.type'), render: (r) => r.data.type },
            { key: 'ip', header: t('clusters.col.clusterIp'), render: (r) => <span className="mono">{r.data.cluster_ip}</span> },
            {
              key: 'ports',
              header: t('clusters.col.ports'),
              render: (r) => <span className="mono small">{(r.data.ports ?? []).map((p) => `${p.port}/${p.protocol}`).join(', ')}</span>,
            },
            { key: 'age', header: t('clusters.col.age'), render: (r) => <Age iso={r.created} />, className: 'nowrap' },
          ]}
        />
      );
    case 'events':
      return <EventsTab clusterId={clusterId} fixed={params} />;
  }
}

function Header({ sm, canManage }: { sm: ServiceMap; canManage: boolean }) {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const now = useNow();
  const remove = useDeleteServiceMap(sm.workspace.id, sm.id);
  const [dialog, setDialog] = useState<'edit' | 'delete' | null>(null);
  const deleting = sm.status === 'deleting';
  const deletion: ServiceMapDeletion = sm as ServiceMap & ServiceMapDeletion;
  return (
    <section className="card cluster-header" data-testid="servicemap-header" data-status={sm.status} data-in-sync={String(sm.in_sync)}>
      <div className="cluster-title">
        <div>
          <h1>
            {sm.display_name || sm.namespace} <StateBadge status={sm.status} message={messageText(t, sm)} testId="servicemap-status" />{' '}
            {sm.in_sync ? (
              <span className="badge tone-ok" data-testid="in-sync">
                {t('workspaces.servicemap.inSync')}
              </span>
            ) : (
              <span className="badge tone-warn" data-testid="not-in-sync">
                {t('workspaces.servicemap.notInSync')}
              </span>
            )}
          </h1>
          <p className="muted mono small">
            {t('workspaces.field.namespace')}: <span data-testid="servicemap-namespace">{sm.namespace}</span> · {t('workspaces.field.cluster')}:{' '}
            <Link to={`/clusters/${sm.cluster.id}`}>{sm.cluster.display_name || sm.cluster.name}</Link> · {t('workspaces.servicemap.workspace')}:{' '}
            <Link to={`/workspaces/${sm.workspace.id}`}>{sm.workspace.name}</Link>
          </p>
          {sm.description && <p>{sm.description}</p>}
        </div>
        <Link className="btn btn-small" to={`/monitoring/servicemaps/${sm.id}`} data-testid="open-charts">
          {t('monitoring.openCharts')}
        </Link>
        {!deleting && <SavePackageButton serviceMap={sm} />}
        {canManage && !deleting && (
          <div className="header-actions">
            <button type="button" className="btn btn-small" data-testid="edit-servicemap" onClick={() => setDialog('edit')}>
              {t('workspaces.servicemap.edit')}
            </button>
            <MoveAction source={{ id: sm.id, workspaceId: sm.workspace.id, name: sm.display_name || sm.namespace, clusterId: sm.cluster.id, namespace: sm.namespace }} />
            <button type="button" className="btn btn-small btn-danger-outline" data-testid="delete-servicemap" onClick={() => setDialog('delete')}>
              {t('workspaces.servicemap.delete')}
            </button>
          </div>
        )}
      </div>
      {sm.message && (
        <p className={`alert ${sm.status === 'error' ? 'alert-error' : 'alert-warning'}`} data-testid="servicemap-message">
          {messageText(t, sm)}
        </p>
      )}
      {sm.warnings.length > 0 && (
        <ul className="plain-list small warn-text" data-testid="servicemap-warnings">
          {sm.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
      {deleting && (
        <div className={`alert ${deletion.deletion_stuck ? 'alert-error' : 'alert-warning'}`} data-testid="servicemap-deleting" data-stuck={String(!!deletion.deletion_stuck)}>
          <p>
            {deletion.deletion_stuck ? <strong data-testid="servicemap-deletion-stuck">{t('workspaces.servicemap.deletionStuck')}: </strong> : null}
            {t('workspaces.servicemap.deleting')}
          </p>
          {deletion.deleting_since && (
            <p className="small">{t('workspaces.servicemap.deletingSince', { when: relativeTime(deletion.deleting_since, now, i18n.language) ?? deletion.deleting_since })}</p>
          )}
          {deletion.deletion_stuck && <p className="small">{t('workspaces.servicemap.deletionStuckBody')}</p>}
        </div>
      )}
      <dl className="facts">
        <div>
          <dt>{t('workspaces.servicemap.workloads')}</dt>
          <dd data-testid="servicemap-workloads">
            {sm.workloads.ready}/{sm.workloads.total}
          </dd>
        </div>
        <div>
          <dt>{t('workspaces.servicemap.pods')}</dt>
          <dd data-testid="servicemap-pods">
            {sm.pods.running}/{sm.pods.total}
            {sm.pods.failed > 0 && <span className="bad-text"> · {t('workspaces.servicemap.failed', { count: sm.pods.failed })}</span>}
          </dd>
        </div>
        <div>
          <dt>{t('workspaces.servicemap.lastApplied')}</dt>
          <dd>{relativeTime(sm.last_applied, now, i18n.language) ?? t('common.never')}</dd>
        </div>
      </dl>
      <h2 className="card-title">{t('workspaces.servicemap.usage')}</h2>
      <QuotaBars
        keys={orderedKeys(sm.usage, sm.quota)}
        total={Object.fromEntries(orderedKeys(sm.usage, sm.quota).map((k) => [k, sm.usage[k]?.hard ?? sm.quota[k] ?? '']))}
        used={Object.fromEntries(Object.entries(sm.usage).map(([k, v]) => [k, v.used]))}
        testId="servicemap-usage"
      />
      {dialog === 'edit' && <EditShareDialog serviceMap={sm} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && (
        <TypeToConfirmDialog
          title={t('workspaces.servicemap.delete')}
          message={t('workspaces.servicemap.deleteBody', { namespace: sm.namespace, cluster: sm.cluster.name })}
          expected={sm.namespace}
          confirmLabel={t('workspaces.servicemap.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() =>
            remove.mutate(undefined, {
              // Back to the workspace's list, where the row shows 삭제 중 until the namespace is gone.
              onSuccess: () => navigate(`/workspaces/${sm.workspace.id}/servicemaps`, { state: { notice: t('workspaces.servicemap.deleteStarted', { namespace: sm.namespace }) } }),
            })
          }
          onCancel={() => setDialog(null)}
        />
      )}
      {remove.isSuccess && (
        <p className="small muted" role="status">
          <button type="button" className="btn btn-small" onClick={() => navigate(`/workspaces/${sm.workspace.id}/servicemaps`)}>
            {t('workspaces.servicemap.backToList')}
          </button>
        </p>
      )}
    </section>
  );
}

export function ServiceMapDetailPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const sid = Number(params.sid);
  const tab: SmTab = SERVICEMAP_TABS.find((x) => x === params.tab) ?? 'workloads';
  const workspace = useWorkspace(id);
  const sm = useServiceMap(id, sid);
  const access = useWorkspaceAccess(workspace.data);
  useWorkspaceLive(Number.isInteger(id) ? id : null);
  const navigate = useNavigate();
  const seenDeleting = useRef<string | null>(null);
  if (sm.data?.status === 'deleting') seenDeleting.current = sm.data.namespace;
  const goneAfterDelete = seenDeleting.current !== null && sm.isError && sm.error instanceof ApiError && sm.error.status === 404;
  useEffect(() => {
    // The namespace is gone while this page watched it terminate: to the list, with a notice.
    if (goneAfterDelete) navigate(`/workspaces/${id}/servicemaps`, { replace: true, state: { notice: t('workspaces.servicemap.deletedNotice', { namespace: seenDeleting.current }) } });
  }, [goneAfterDelete, id, navigate, t]);
  if (!Number.isInteger(id) || !Number.isInteger(sid)) return <NotFound />;
  if (goneAfterDelete) return <Loading />;
  if (sm.isError && sm.error instanceof ApiError && sm.error.status === 404) {
    return (
      <section className="page" data-testid="servicemap-gone">
        <NotFound />
      </section>
    );
  }
  const base = `/workspaces/${id}/servicemaps/${sid}`;
  return (
    <section className="page page-wide" data-testid="servicemap-page">
      <p className="muted small breadcrumbs">
        <Link to="/workspaces">{t('nav.workspaces')}</Link> / <Link to={`/workspaces/${id}/servicemaps`}>{workspace.data?.name ?? id}</Link> /{' '}
        {sm.data?.namespace ?? sid}
      </p>
      {sm.isPending && <Loading />}
      {sm.isError && <ErrorState error={sm.error} onRetry={() => void sm.refetch()} />}
      {sm.data && <Header sm={sm.data} canManage={access.can('servicemaps.manage')} />}
      <nav className="tabs" aria-label={t('workspaces.tabsLabel')}>
        {SERVICEMAP_TABS.map((x) => (
          <NavLink
            key={x}
            to={`${base}/${x}`}
            className={() => (x === tab ? 'tab active' : 'tab')}
            aria-current={x === tab ? 'page' : undefined}
            data-testid={`tab-${x}`}
          >
            {x === 'releases' ? t('catalog.releases.title') : x === 'config' ? t('config.tab') : x === 'autoscaling' ? t('config.autoscaling.tab') : x === 'timeline' ? t('timeline.tab') : t(`clusters.tab.${x}`)}
          </NavLink>
        ))}
      </nav>
      <section className="card tab-panel" data-testid={`panel-${tab}`}>
        {sm.data ? <ObjectsTab tab={tab} clusterId={sm.data.cluster.id} namespace={sm.data.namespace} serviceMapId={sm.data.id} /> : <Loading />}
      </section>
    </section>
  );
}
