/**
 * Routes. Everything except /login sits behind RequireAuth inside the Shell;
 * /admin/* additionally needs a system admin.
 */
import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes } from 'react-router-dom';
import { ChangePasswordPage } from './account/ChangePasswordPage';
import { CatalogPage } from './catalog/CatalogPage';
import { DeployWizard } from './catalog/DeployWizard';
import { PackagePage } from './catalog/PackagePage';
import { ReleasePage } from './catalog/ReleasePage';
import { ReleasesPage } from './catalog/ReleasesTable';
import { RolloutPage } from './catalog/RolloutPage';
import { SourcesPage } from './catalog/SourcesPage';
import { AuditPage } from './audit/AuditPage';
import { RequireAdmin, RequireAuth, RequireStaff } from './auth/RequireAuth';
import { Shell } from './layout/Shell';
import { DashboardPage } from './pages/dashboard/DashboardPage';
import { LoginPage } from './pages/LoginPage';
import { NotFound } from './pages/NotFound';
import { ClusterDetailPage } from './clusters/ClusterDetailPage';
import { ClustersPage } from './clusters/ClustersPage';
import { PodDetailPage } from './clusters/PodDetailPage';
import { RegisterClusterPage } from './clusters/RegisterClusterPage';
import { TokensPage } from './tokens/TokensPage';
import { UserDetailPage } from './users/UserDetailPage';
import { UsersPage } from './users/UsersPage';
import { MappingsPage } from './identity/MappingsPage';
import { ProvidersPage } from './identity/ProvidersPage';
import { QuotaOverviewPage } from './workspaces/QuotaOverviewPage';
import { RolesPage } from './workspaces/RolesPage';
import { ServiceMapDetailPage } from './workspaces/ServiceMapDetailPage';
import { ServiceMapsPage } from './workspaces/ServiceMapsPage';
import { WorkspaceDetailPage } from './workspaces/WorkspaceDetailPage';
import { WorkspacesPage } from './workspaces/WorkspacesPage';
import { Loading } from './components/Loading';

// The object pages carry the code editor (CodeMirror): loaded when first opened.
const ObjectPage = lazy(() => import('./objects/ObjectPage').then((m) => ({ default: m.ObjectPage })));
const CreatePage = lazy(() => import('./objects/CreatePage').then((m) => ({ default: m.CreatePage })));
// Builds and registries: their own chunks, loaded when first opened.
const BuildsRoutes = lazy(() => import('./builds/BuildsRoutes').then((m) => ({ default: m.BuildsRoutes })));
const RegistriesRoutes = lazy(() =>
  import('./registries/RegistriesRoutes').then((m) => ({ default: m.RegistriesRoutes })),
);

// Monitoring (charts, events, metering), alerts (alerts, rules, silences, channels) and the log
// viewer: their own chunks (issue 14).
const MonitoringRoutes = lazy(() =>
  import('./monitoring/MonitoringRoutes').then((m) => ({ default: m.MonitoringRoutes })),
);
const AlertsRoutes = lazy(() => import('./alerts/AlertsRoutes').then((m) => ({ default: m.AlertsRoutes })));
const LogsRoute = lazy(() => import('./alerts/LogsRoute').then((m) => ({ default: m.LogsRoute })));


export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <Shell />
          </RequireAuth>
        }
      >
        <Route index element={<DashboardPage />} />
        <Route path="/clusters" element={<ClustersPage />} />
        <Route
          path="/clusters/new"
          element={
            <RequireAdmin>
              <RegisterClusterPage />
            </RequireAdmin>
          }
        />
        <Route path="/clusters/:id/pods/:namespace/:name" element={<PodDetailPage />} />
        <Route
          path="/clusters/:id/objects/:group/:version/:plural/:name"
          element={
            <Suspense fallback={<Loading />}>
              <ObjectPage />
            </Suspense>
          }
        />
        <Route
          path="/clusters/:id/create"
          element={
            <Suspense fallback={<Loading />}>
              <CreatePage />
            </Suspense>
          }
        />
        <Route path="/clusters/:id/:tab?" element={<ClusterDetailPage />} />
        <Route path="/workspaces" element={<WorkspacesPage />} />
        <Route path="/workspaces/:id/servicemaps/:sid/:tab?" element={<ServiceMapDetailPage />} />
        <Route path="/workspaces/:id/:tab?" element={<WorkspaceDetailPage />} />
        <Route path="/servicemaps" element={<ServiceMapsPage />} />
        <Route path="/catalog" element={<CatalogPage />} />
        <Route path="/catalog/sources" element={<SourcesPage />} />
        <Route path="/catalog/packages/:id" element={<PackagePage />} />
        <Route path="/catalog/packages/:id/deploy" element={<DeployWizard />} />
        <Route path="/releases" element={<ReleasesPage />} />
        <Route path="/releases/:id" element={<ReleasePage />} />
        <Route path="/rollouts/:id" element={<RolloutPage />} />
        <Route
          path="/builds/*"
          element={
            <Suspense fallback={<Loading />}>
              <BuildsRoutes />
            </Suspense>
          }
        />
        <Route
          path="/registries/*"
          element={
            <Suspense fallback={<Loading />}>
              <RegistriesRoutes />
            </Suspense>
          }
        />
        <Route
          path="/monitoring/*"
          element={
            <Suspense fallback={<Loading />}>
              <MonitoringRoutes />
            </Suspense>
          }
        />
        <Route
          path="/alerts/*"
          element={
            <Suspense fallback={<Loading />}>
              <AlertsRoutes />
            </Suspense>
          }
        />
        <Route
          path="/logs/:clusterId/:namespace/:kind/:name"
          element={
            <Suspense fallback={<Loading />}>
              <LogsRoute />
            </Suspense>
          }
        />
        <Route path="/account/tokens" element={<TokensPage />} />
        <Route path="/account/password" element={<ChangePasswordPage />} />
        <Route
          path="/admin/users"
          element={
            <RequireAdmin>
              <UsersPage />
            </RequireAdmin>
          }
        />
        <Route
          path="/admin/users/:id"
          element={
            <RequireAdmin>
              <UserDetailPage />
            </RequireAdmin>
          }
        />
        <Route
          path="/admin/identity"
          element={
            <RequireAdmin>
              <ProvidersPage />
            </RequireAdmin>
          }
        />
        <Route
          path="/admin/identity/:id"
          element={
            <RequireAdmin>
              <MappingsPage />
            </RequireAdmin>
          }
        />
        <Route
          path="/admin/quotas"
          element={
            <RequireStaff>
              <QuotaOverviewPage />
            </RequireStaff>
          }
        />
        <Route
          path="/admin/roles"
          element={
            <RequireAdmin>
              <RolesPage />
            </RequireAdmin>
          }
        />
        <Route
          path="/admin"
          element={
            <RequireAdmin>
              <Navigate to="/admin/audit" replace />
            </RequireAdmin>
          }
        />
        <Route
          path="/admin/audit"
          element={
            <RequireAdmin>
              <AuditPage />
            </RequireAdmin>
          }
        />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
