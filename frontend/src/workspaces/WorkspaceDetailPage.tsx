/**
 * /workspaces/:id/:tab — one workspace: its allocations (overview), members, service maps,
 * registries and settings. Actions follow `my_grants` (admins have every grant); the API still
 * decides, and its 403/409 answers are shown. Kept live from `workspace.<id>`.
 */
import { useTranslation } from 'react-i18next';
import { Link, NavLink, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { NotFound } from '../pages/NotFound';
import { AllocationsTab } from './AllocationsTab';
import { QuotaBar, QuotaKeyLabel, useRoleLabel } from './common';
import { useWorkspaceLive } from './live';
import { MembersTab } from './MembersTab';
import { useWorkspace, useWorkspaceAccess } from './queries';
import { RegistriesTab, ServiceMapsTab, SettingsTab } from './WorkspaceTabs';
import { Timeline } from '../activity/Timeline';

export const WORKSPACE_TABS = ['overview', 'members', 'servicemaps', 'registries', 'timeline', 'settings'] as const;
export type WorkspaceTab = (typeof WORKSPACE_TABS)[number];

export function WorkspaceDetailPage() {
  const { t } = useTranslation();
  const roleLabel = useRoleLabel();
  const params = useParams();
  const id = Number(params.id);
  const tab: WorkspaceTab = WORKSPACE_TABS.find((x) => x === params.tab) ?? 'overview';
  const workspace = useWorkspace(id);
  const access = useWorkspaceAccess(workspace.data);
  useWorkspaceLive(Number.isInteger(id) ? id : null);
  if (!Number.isInteger(id)) return <NotFound />;
  if (workspace.isError && workspace.error instanceof ApiError && workspace.error.status === 404) return <NotFound />;
  const w = workspace.data;
  return (
    <section className="page page-wide" data-testid="workspace-page">
      <p className="muted small breadcrumbs">
        <Link to="/workspaces">{t('nav.workspaces')}</Link> / {w?.name ?? id}
      </p>
      {workspace.isPending && <Loading />}
      {workspace.isError && <ErrorState error={workspace.error} onRetry={() => void workspace.refetch()} />}
      {w && (
        <section className="card" data-testid="workspace-header">
          <div className="cluster-title">
            <div>
              <h1>{w.display_name || w.name}</h1>
              <Link className="btn btn-small" to={`/monitoring/workspaces/${w.id}`} data-testid="open-charts">
                {t('monitoring.openCharts')}
              </Link>
              <p className="muted mono small">
                {w.name}
                {w.my_role && (
                  <>
                    {' · '}
                    <span data-testid="my-role">{t('workspaces.myRole', { role: roleLabel(w.my_role) })}</span>
                  </>
                )}
              </p>
              {w.description && <p>{w.description}</p>}
            </div>
          </div>
          <dl className="facts">
            <div>
              <dt>{t('workspaces.col.clusters')}</dt>
              <dd>{w.cluster_count}</dd>
            </div>
            <div>
              <dt>{t('workspaces.col.members')}</dt>
              <dd>{w.member_count}</dd>
            </div>
            <div>
              <dt>{t('workspaces.col.serviceMaps')}</dt>
              <dd>{w.service_map_count}</dd>
            </div>
            {w.quota_use.map((u) => (
              <div key={u.resource}>
                <dt>
                  <QuotaKeyLabel resource={u.resource} bare />
                </dt>
                <dd>
                  <QuotaBar resource={u.resource} used={u.used} total={u.allocated} labelled={false} />
                </dd>
              </div>
            ))}
          </dl>
        </section>
      )}
      <nav className="tabs" aria-label={t('workspaces.tabsLabel')}>
        {WORKSPACE_TABS.map((x) => (
          <NavLink
            key={x}
            to={`/workspaces/${id}/${x}`}
            className={() => (x === tab ? 'tab active' : 'tab')}
            aria-current={x === tab ? 'page' : undefined}
            data-testid={`tab-${x}`}
          >
            {x === 'timeline' ? t('timeline.tab') : t(`workspaces.tab.${x}`)}
          </NavLink>
        ))}
      </nav>
      <section className="card tab-panel" data-testid={`panel-${tab}`}>
        {tab === 'overview' && <AllocationsTab workspaceId={id} isAdmin={access.isAdmin} />}
        {tab === 'members' && <MembersTab workspaceId={id} canManage={access.can('members.manage')} />}
        {tab === 'servicemaps' && <ServiceMapsTab workspaceId={id} canManage={access.can('servicemaps.manage')} />}
        {tab === 'registries' && <RegistriesTab workspaceId={id} isAdmin={access.isAdmin} />}
        {tab === 'timeline' && <Timeline scope={{ workspace: id }} />}
        {tab === 'settings' && w && <SettingsTab workspace={w} isAdmin={access.isAdmin} />}
      </section>
    </section>
  );
}
