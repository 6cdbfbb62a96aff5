/**
 * Routes. Everything except /login sits behind RequireAuth inside the Shell;
 * /admin/* additionally needs a system admin.
 *
 * Every page is its own chunk (routeChunks.ts): the entry keeps the Shell, the guards and the 404;
 * a page shows the Loading state inside the Shell while its chunk and its strings download. The
 * login page starts fetching the dashboard once it is idle.
 */
import { Component, Suspense, type ReactNode } from 'react';
import { Navigate, Route, Routes } from 'react-router-dom';
import { RequireAdmin, RequireAuth, RequireStaff } from './auth/RequireAuth';
import { ErrorState } from './components/ErrorState';
import { Loading } from './components/Loading';
import { Shell } from './layout/Shell';
import { NotFound } from './pages/NotFound';
import * as pages from './routeChunks';
import type { PageChunk } from './routeChunks';

/**
 * A page that failed to load (a chunk gone after a new deploy, the network down) or to render says
 * so inside the Shell instead of blanking the console; Retry reloads, which also fetches the new
 * deploy's chunk names.
 */
class PageBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  render() {
    if (this.state.error) return <ErrorState error={this.state.error} onRetry={() => window.location.reload()} />;
    return this.props.children;
  }
}

function Lazy({ page }: { page: PageChunk }) {
  return (
    <PageBoundary key={page.path}>
      <Suspense fallback={<Loading />}>
        <page.Component />
      </Suspense>
    </PageBoundary>
  );
}

/** A route whose page is a lazy chunk, optionally behind a guard. */
function route(page: PageChunk, guard?: (children: ReactNode) => ReactNode) {
  const element = <Lazy page={page} />;
  return <Route key={page.path} path={page.path} element={guard ? guard(element) : element} />;
}

const admin = (children: ReactNode) => <RequireAdmin>{children}</RequireAdmin>;
const staff = (children: ReactNode) => <RequireStaff>{children}</RequireStaff>;

export function AppRoutes() {
  return (
    <Routes>
      <Route path={pages.loginPage.path} element={<Lazy page={pages.loginPage} />} />
      <Route
        element={
          <RequireAuth>
            <Shell />
          </RequireAuth>
        }
      >
        <Route index element={<Lazy page={pages.dashboardPage} />} />
        {route(pages.clustersPage)}
        {route(pages.registerClusterPage, admin)}
        {route(pages.podDetailPage)}
        {route(pages.objectPage)}
        {route(pages.createPage)}
        {route(pages.clusterDetailPage)}
        {route(pages.workspacesPage)}
        {route(pages.serviceMapDetailPage)}
        {route(pages.workspaceDetailPage)}
        {route(pages.serviceMapsPage)}
        {route(pages.catalogPage)}
        {route(pages.sourcesPage)}
        {route(pages.packagePage)}
        {route(pages.deployWizard)}
        {route(pages.releasesPage)}
        {route(pages.releasePage)}
        {route(pages.rolloutPage)}
        {route(pages.buildsRoutes)}
        {route(pages.provisioningRoutes, staff)}
        {route(pages.movePage)}
        {route(pages.registriesRoutes)}
        {route(pages.monitoringRoutes)}
        {route(pages.alertsRoutes)}
        {route(pages.logsRoute)}
        {route(pages.tokensPage)}
        {route(pages.changePasswordPage)}
        {route(pages.usersPage, admin)}
        {route(pages.userDetailPage, admin)}
        {route(pages.providersPage, admin)}
        {route(pages.mappingsPage, admin)}
        {route(pages.quotaOverviewPage, staff)}
        {route(pages.rolesPage, admin)}
        <Route path="/admin" element={admin(<Navigate to="/admin/audit" replace />)} />
        {route(pages.auditPage, admin)}
        {route(pages.settingsPage, admin)}
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
