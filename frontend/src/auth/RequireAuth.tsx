/** Route guards: send anonymous users to /login?next=..., non-admins (or non-staff) to a 403 page. */
import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import { useQueryClient } from '@tanstack/react-query';
import { loggedOutKey, useMe } from './queries';
import { Loading } from '../components/Loading';
import { ErrorState } from '../components/ErrorState';
import { Forbidden } from '../pages/Forbidden';

export function loginPath(next: string): string {
  return next && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login';
}

export function RequireAuth({ children }: { children: ReactNode }) {
  const me = useMe();
  const location = useLocation();
  const queryClient = useQueryClient();
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;
  if (!me.data) {
    const explicit = queryClient.getQueryData(loggedOutKey) === true;
    return <Navigate to={explicit ? '/login' : loginPath(location.pathname + location.search)} replace />;
  }
  return <>{children}</>;
}

export function RequireAdmin({ children }: { children: ReactNode }) {
  const me = useMe();
  if (!me.data?.is_admin) return <Forbidden />;
  return <>{children}</>;
}

/** System admins, operators and auditors (read-only views across every workspace). */
export function RequireStaff({ children }: { children: ReactNode }) {
  const me = useMe();
  if (me.data?.role !== 'admin' && me.data?.role !== 'operator' && me.data?.role !== 'auditor' && !me.data?.is_admin) return <Forbidden />;
  return <>{children}</>;
}

/** Only same-site paths are followed after login, never another origin. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next.startsWith('/login')) return '/';
  return next;
}
