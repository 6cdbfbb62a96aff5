import { act, configure, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, useLocation } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import { AppRoutes } from './App';
import type { User } from './api/types';
import { Providers } from './Providers';
import { getSocket } from './lib/socket';
import { FakeWebSocket } from './test/FakeWebSocket';
import { cluster, page } from './test/clusters';
import { adminUser, json, mockFetch, testQueryClient } from './test/utils';
import { changeLanguage } from './i18n';

// Every page is a lazy chunk: its first render waits for the import, which on a busy machine can take
// longer than the default second the first time a test transforms the section's modules.
configure({ asyncUtilTimeout: 5000 });

// jsdom has no canvas: the monitoring chunk's charts draw on a stand-in.
vi.mock('uplot', async () => (await import('./monitoring/testUplot')).uplotModule);
// A page whose chunk cannot be fetched (say, gone after a new deploy).
vi.mock('./account/ChangePasswordPage', () => {
  throw new Error('Failed to fetch dynamically imported module: ChangePasswordPage-old.js');
});

const operator: User = { ...adminUser, id: 2, username: 'kim', first_name: '민수', last_name: '', role: 'operator', is_admin: false };
const readyz = () =>
  json({
    status: 'fail',
    checks: {
      database: { ok: true, detail: 'PostgreSQL 16' },
      redis: { ok: true, detail: '' },
      celery: { ok: false, detail: 'no worker answered within 2s' },
    },
  }, { status: 503 });

function Where() {
  const l = useLocation();
  return <div data-testid="where">{l.pathname + l.search}</div>;
}

function renderApp(route: string, me: User | null | undefined) {
  const queryClient = testQueryClient(me);
  render(
    <Providers queryClient={queryClient}>
      <MemoryRouter initialEntries={[route]}>
        <AppRoutes />
        <Where />
      </MemoryRouter>
    </Providers>,
  );
  return queryClient;
}

describe('routing and layout', () => {
  it('sends an anonymous visitor to /login with next=', async () => {
    mockFetch({ 'GET /api/auth/me/': () => json({ detail: 'Authentication credentials were not provided.' }, { status: 401 }) });
    renderApp('/admin/audit?outcome=denied', undefined);
    await waitFor(() =>
      expect(screen.getByTestId('where')).toHaveTextContent('/login?next=%2Fadmin%2Faudit%3Foutcome%3Ddenied'),
    );
    // The login page is a chunk of its own too.
    await waitFor(() => expect(document.querySelector('input[name=username]')).toBeInTheDocument());
  });

  it('shows the dashboard (its own chunk) with the role and the admin section for admins', async () => {
    mockFetch({
      'GET /api/auth/me/': () => json(adminUser),
      'GET /api/dashboard/': () => json({ generated_at: '2026-01-01T00:00:00Z', roles: ['admin'], groups: [], tiles: [] }),
    });
    renderApp('/', undefined);
    const dashboard = await screen.findByTestId('dashboard');
    expect(dashboard).toHaveTextContent('Welcome, admin');
    expect(screen.getByTestId('dashboard-role')).toHaveTextContent('Role: System admin');
    expect(await screen.findByTestId('dashboard-empty')).toBeInTheDocument();
    for (const key of ['dashboard', 'clusters', 'workspaces', 'servicemaps', 'catalog', 'builds', 'monitoring', 'alerts', 'admin']) {
      expect(screen.getByTestId(`nav-${key}`)).toBeInTheDocument();
    }
  });

  it('shows a lazily loaded page in the language chosen before it opened', async () => {
    window.localStorage.setItem('portal.language', 'ko');
    await act(() => changeLanguage('ko'));
    try {
      mockFetch({ 'GET /api/auth/tokens/': () => json(page([])) });
      renderApp('/account/tokens', operator);
      expect(await screen.findByTestId('lang-switch')).toHaveValue('ko');
      expect(await screen.findByRole('heading', { level: 1, name: 'API 토큰' })).toBeInTheDocument();
    } finally {
      await act(() => changeLanguage('en'));
    }
  });

  it('hides Admin from non-admins and refuses its pages', async () => {
    mockFetch({ 'GET /readyz': readyz });
    renderApp('/admin/audit', operator);
    expect(await screen.findByTestId('forbidden')).toBeInTheDocument();
    expect(screen.queryByTestId('nav-admin')).not.toBeInTheDocument();
    expect(screen.getByTestId('nav-clusters')).toBeInTheDocument();
  });

  it('opens the monitoring section (its own chunk) in either language', async () => {
    mockFetch({
      'GET /api/clusters/': () => json(page([])),
      'GET /api/monitoring/events/': () => json(page([])),
    });
    renderApp('/monitoring/events', operator);
    expect(await screen.findByTestId('events-empty')).toBeInTheDocument();
    expect(screen.getByTestId('nav-monitoring')).toHaveTextContent('Monitoring');
    await act(() => changeLanguage('ko'));
    expect(screen.getByTestId('nav-monitoring')).toHaveTextContent('모니터링');
    expect(screen.getByTestId('nav-alerts')).toHaveTextContent('알림');
    expect(window.localStorage.getItem('portal.language')).toBe('ko');
    await act(() => changeLanguage('en'));
  });

  it('shows the workspaces page instead of the not-available state', async () => {
    mockFetch({ 'GET /api/workspaces/': () => json(page([])) });
    renderApp('/workspaces', operator);
    expect(await screen.findByTestId('workspaces-page')).toBeInTheDocument();
    expect(await screen.findByTestId('workspaces-empty')).toBeInTheDocument();
    expect(screen.queryByTestId('not-available')).not.toBeInTheDocument();
    expect(screen.queryByTestId('create-workspace')).not.toBeInTheDocument();
    // operators see the quota overview link, but not the admin section
    expect(screen.getByTestId('nav-admin-quotas')).toHaveAttribute('href', '/admin/quotas');
    expect(screen.queryByTestId('nav-admin')).not.toBeInTheDocument();
  });

  it('shows the builds section (its own chunk) instead of the not-available state', async () => {
    mockFetch({
      'GET /api/workspaces/': () => json(page([])),
      'GET /api/builds/definitions/': () => json(page([])),
    });
    renderApp('/builds', operator);
    expect(await screen.findByTestId('builds-page')).toBeInTheDocument();
    expect(await screen.findByTestId('builds-empty')).toHaveTextContent('No builds yet');
    expect(screen.queryByTestId('not-available')).not.toBeInTheDocument();
  });

  it('switches language from the top bar', async () => {
    mockFetch({ 'GET /api/auth/tokens/': () => json(page([])) });
    renderApp('/account/tokens', operator);
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByTestId('lang-switch'), 'ko');
    expect(screen.getByTestId('nav-builds')).toHaveTextContent('빌드');
    expect(document.documentElement.lang).toBe('ko');
    await user.selectOptions(screen.getByTestId('lang-switch'), 'en');
    expect(screen.getByTestId('nav-builds')).toHaveTextContent('Builds');
  });

  it('says so inside the Shell when a page cannot be loaded, and offers to reload', async () => {
    mockFetch({});
    renderApp('/account/password', operator);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Something went wrong'); // vitest wraps the import's error in its own words
    expect(screen.getByRole('button', { name: 'Retry' })).toBeInTheDocument();
    expect(screen.getByTestId('nav-clusters')).toBeInTheDocument(); // the Shell stays
  });

  it('goes to the login page when any API call answers 401', async () => {
    mockFetch({
      'GET /api/auth/tokens/': () => json({ detail: 'Session expired.' }, { status: 401 }),
    });
    renderApp('/account/tokens', operator);
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent('/login?next=%2Faccount%2Ftokens'));
    expect(screen.getByTestId('session-expired')).toHaveTextContent('Your session has ended');
  });

  it('logs out from the user menu', async () => {
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'c' }),
      'POST /api/auth/logout/': () => new Response(null, { status: 204 }),
      'GET /api/auth/tokens/': () => json(page([])),
    });
    const queryClient = renderApp('/account/tokens', operator);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('user-menu'));
    expect(screen.getByTestId('menu-tokens')).toHaveAttribute('href', '/account/tokens');
    await user.click(screen.getByTestId('logout'));
    // Plain /login: the next person to log in must not land on the previous user's page.
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent(/^\/login$/));
    expect(screen.queryByTestId('session-expired')).not.toBeInTheDocument();
    expect(seen.some((r) => r.method === 'POST' && r.url.endsWith('/api/auth/logout/'))).toBe(true);
    expect(queryClient.getQueryData(['me'])).toBeNull();
    expect(getSocket().state).toBe('closed');
  });

  it('reflects the socket state in the top bar', async () => {
    mockFetch({});
    renderApp('/catalog', operator);
    const status = await screen.findByTestId('ws-status');
    expect(status).toHaveAttribute('data-state', 'connecting');
    act(() => FakeWebSocket.latest().serverOpen());
    expect(status).toHaveAttribute('data-state', 'open');
    act(() => FakeWebSocket.latest().serverClose(4403));
    expect(status).toHaveAttribute('data-state', 'closed');
  });

  it('logs the user out when the socket says 4401', async () => {
    mockFetch({});
    renderApp('/catalog', operator);
    await screen.findByTestId('ws-status');
    act(() => FakeWebSocket.latest().serverOpen());
    act(() => FakeWebSocket.latest().serverClose(4401));
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent('/login?next=%2Fcatalog'));
  });

  it('shows the clusters table, and the disconnected banner above it when the socket stays down', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      mockFetch({ 'GET /api/clusters/': () => json(page([cluster(1, { name: 'seoul-prod' })])) });
      renderApp('/clusters', operator);
      expect(await screen.findByTestId('cluster-row-seoul-prod')).toBeInTheDocument();
      expect(screen.queryByTestId('register-cluster')).not.toBeInTheDocument(); // operators do not register
      const ws = FakeWebSocket.latest();
      act(() => ws.serverOpen());
      act(() => ws.serverClose(1006));
      act(() => vi.advanceTimersByTime(6000));
      expect(screen.getByTestId('ws-banner')).toHaveTextContent('Live updates are disconnected');
      expect(screen.getByTestId('clusters-live')).toHaveAttribute('data-live', 'false');
      expect(screen.getByTestId('cluster-row-seoul-prod')).toBeInTheDocument(); // last data stays visible
    } finally {
      vi.useRealTimers();
    }
  });
});

