/**
 * Routes. Everything except /login sits behind RequireAuth inside the Shell;
 * /admin/* additionally needs a system admin.
 */
import { Navigate, Route, Routes } from 'react-router-dom';
import { AuditPage } from './audit/AuditPage';
import { RequireAdmin, RequireAuth } from './auth/RequireAuth';
import { Shell } from './layout/Shell';
import { NAV_ITEMS } from './layout/nav';
import { DashboardPage } from './pages/dashboard/DashboardPage';
import { LoginPage } from './pages/LoginPage';
import { NotAvailable } from './pages/NotAvailable';
import { NotFound } from './pages/NotFound';
import { TokensPage } from './tokens/TokensPage';

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
        {NAV_ITEMS.filter((item) => item.key !== 'dashboard').map((item) => (
          <Route key={item.key} path={`${item.path}/*`} element={<NotAvailable section={item.key} />} />
        ))}
        <Route path="/account/tokens" element={<TokensPage />} />
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
