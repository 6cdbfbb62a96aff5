/**
 * Every page of the console as a chunk of its own (issue 20, code splitting by route): the entry
 * holds only the Shell, the route guards, the 404 and what every page needs; a page's code and its sections of the
 * translations (i18n/sections.ts) load in parallel when it is first opened.
 *
 * One line per page, in this exact shape — scripts/size.mjs reads it to add up what each route
 * loads (size-budgets.json has a budget per path):
 *   export const name = page('/path', () => import('./dir/Module'), 'ExportName', ['section', …]);
 * `sections` are the translation sections the page and what it imports use beyond the startup ones
 * (base, codes, a11y); scripts/routeSections.test.mjs checks them against the code. A section
 * missed here still loads when its first key is looked up (the page re-renders), with a warning in
 * development.
 */
import { lazy, type ComponentType, type LazyExoticComponent } from 'react';
import { loadSections, type Section } from './i18n';

export interface PageChunk {
  /** The route path as App.tsx declares it (also the row of the size report). */
  path: string;
  Component: LazyExoticComponent<ComponentType>;
  /** Starts downloading the page and its strings (e.g. the page the user will most likely open next). */
  preload: () => Promise<unknown>;
}

function page<M, K extends keyof M & string>(
  path: string,
  load: () => Promise<M>,
  name: K,
  sections: readonly Section[],
): PageChunk {
  let pending: Promise<{ default: ComponentType }> | null = null;
  const preload = () => {
    // The strings are not worth failing the page for: a section that did not load is tried again
    // when its first key is missed (i18n/index.ts).
    pending ??= Promise.all([load(), loadSections(sections).catch(() => undefined)]).then(([module]) => ({
      default: module[name] as ComponentType,
    }));
    // A failed download (offline, or a new deploy renamed the chunk) is tried again next time.
    pending.catch(() => {
      pending = null;
    });
    return pending;
  };
  return { path, Component: lazy(preload), preload };
}

export const loginPage = page('/login', () => import('./pages/LoginPage'), 'LoginPage', []);
export const dashboardPage = page('/', () => import('./pages/dashboard/DashboardPage'), 'DashboardPage', ['dashboards']);
export const clustersPage = page('/clusters', () => import('./clusters/ClustersPage'), 'ClustersPage', ['clusters', 'objects', 'table']);
export const registerClusterPage = page('/clusters/new', () => import('./clusters/RegisterClusterPage'), 'RegisterClusterPage', ['clusters']);
export const podDetailPage = page('/clusters/:id/pods/:namespace/:name', () => import('./clusters/PodDetailPage'), 'PodDetailPage', ['clusters', 'objects', 'logs', 'terminal', 'monitoring', 'alerts', 'inventory', 'table']);
export const objectPage = page('/clusters/:id/objects/:group/:version/:plural/:name', () => import('./objects/ObjectPage'), 'ObjectPage', ['objects', 'clusters', 'timeline', 'monitoring', 'alerts', 'logs', 'terminal', 'inventory', 'table']);
export const createPage = page('/clusters/:id/create', () => import('./objects/CreatePage'), 'CreatePage', ['objects', 'clusters']);
export const clusterDetailPage = page('/clusters/:id/:tab?', () => import('./clusters/ClusterDetailPage'), 'ClusterDetailPage', ['clusters', 'objects', 'timeline', 'monitoring', 'logs', 'terminal', 'inventory', 'table']);
export const workspacesPage = page('/workspaces', () => import('./workspaces/WorkspacesPage'), 'WorkspacesPage', ['workspaces', 'table', 'lists']);
export const serviceMapDetailPage = page('/workspaces/:id/servicemaps/:sid/:tab?', () => import('./workspaces/ServiceMapDetailPage'), 'ServiceMapDetailPage', ['workspaces', 'moves', 'catalog', 'clusters', 'config', 'objects', 'timeline', 'monitoring', 'logs', 'terminal', 'inventory', 'table']);
export const workspaceDetailPage = page('/workspaces/:id/:tab?', () => import('./workspaces/WorkspaceDetailPage'), 'WorkspaceDetailPage', ['workspaces', 'clusters', 'objects', 'timeline', 'monitoring', 'table', 'lists']);
export const serviceMapsPage = page('/servicemaps', () => import('./workspaces/ServiceMapsPage'), 'ServiceMapsPage', ['workspaces', 'clusters', 'table']);
export const catalogPage = page('/catalog', () => import('./catalog/CatalogPage'), 'CatalogPage', ['catalog', 'clusters', 'objects', 'table', 'inventory']);
export const sourcesPage = page('/catalog/sources', () => import('./catalog/SourcesPage'), 'SourcesPage', ['catalog', 'workspaces']);
export const packagePage = page('/catalog/packages/:id', () => import('./catalog/PackagePage'), 'PackagePage', ['catalog']);
export const deployWizard = page('/catalog/packages/:id/deploy', () => import('./catalog/DeployWizard'), 'DeployWizard', ['catalog']);
export const releasesPage = page('/releases', () => import('./catalog/ReleasesTable'), 'ReleasesPage', ['catalog', 'table']);
export const releasePage = page('/releases/:id', () => import('./catalog/ReleasePage'), 'ReleasePage', ['catalog', 'clusters', 'config', 'objects', 'strategy', 'workspaces']);
export const rolloutPage = page('/rollouts/:id', () => import('./catalog/RolloutPage'), 'RolloutPage', ['catalog']);
export const buildsRoutes = page('/builds/*', () => import('./builds/BuildsRoutes'), 'BuildsRoutes', ['builds', 'table', 'lists']);
export const provisioningRoutes = page('/provisioning/*', () => import('./provisioning/ProvisioningRoutes'), 'ProvisioningRoutes', ['provisioning', 'catalog', 'clusters']);
export const movePage = page('/moves/:id', () => import('./moves/MovePage'), 'MovePage', ['moves', 'clusters']);
export const registriesRoutes = page('/registries/*', () => import('./registries/RegistriesRoutes'), 'RegistriesRoutes', ['registries', 'builds', 'workspaces', 'table', 'lists']);
export const monitoringRoutes = page('/monitoring/*', () => import('./monitoring/MonitoringRoutes'), 'MonitoringRoutes', ['monitoring', 'table']);
export const alertsRoutes = page('/alerts/*', () => import('./alerts/AlertsRoutes'), 'AlertsRoutes', ['alerts', 'table', 'lists']);
export const logsRoute = page('/logs/:clusterId/:namespace/:kind/:name', () => import('./alerts/LogsRoute'), 'LogsRoute', ['alerts']);
export const tokensPage = page('/account/tokens', () => import('./tokens/TokensPage'), 'TokensPage', ['tokens', 'table', 'lists']);
export const changePasswordPage = page('/account/password', () => import('./account/ChangePasswordPage'), 'ChangePasswordPage', []);
export const usersPage = page('/admin/users', () => import('./users/UsersPage'), 'UsersPage', ['users', 'audit', 'clusters', 'admin', 'table']);
export const userDetailPage = page('/admin/users/:id', () => import('./users/UserDetailPage'), 'UserDetailPage', ['users', 'identity']);
export const providersPage = page('/admin/identity', () => import('./identity/ProvidersPage'), 'ProvidersPage', ['identity', 'clusters', 'config']);
export const mappingsPage = page('/admin/identity/:id', () => import('./identity/MappingsPage'), 'MappingsPage', ['identity', 'clusters', 'users']);
export const quotaOverviewPage = page('/admin/quotas', () => import('./workspaces/QuotaOverviewPage'), 'QuotaOverviewPage', ['workspaces', 'table', 'lists']);
export const rolesPage = page('/admin/roles', () => import('./workspaces/RolesPage'), 'RolesPage', ['workspaces', 'clusters', 'admin', 'table']);
export const auditPage = page('/admin/audit', () => import('./audit/AuditPage'), 'AuditPage', ['audit', 'catalog', 'clusters', 'admin', 'table']);
export const settingsPage = page('/admin/settings', () => import('./settings/SettingsPage'), 'SettingsPage', ['admin']);
