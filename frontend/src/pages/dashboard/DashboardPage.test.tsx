import { act, screen, waitFor, within } from '@testing-library/react';
import i18n from 'i18next';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { User } from '../../api/types';
import { getSocket } from '../../lib/socket';
import { FakeWebSocket } from '../../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../../test/utils';
import { DashboardPage } from './DashboardPage';
import { debounce } from './queries';
import type { Dashboard, Tile } from './types';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };
const now = new Date().toISOString();

function tile(key: string, attention: Tile['attention'], data: object, extra: Partial<Tile> = {}): Tile {
  return { key, role: 'developer', attention, as_of: now, link: `/${key}`, data: data as Tile['data'], ...extra };
}

const serviceMaps = (ready: number) =>
  tile('service_maps', ready < 2 ? 2 : 0, {
    count: 1,
    unhealthy: ready < 2 ? 1 : 0,
    service_maps: [
      {
        id: 7, namespace: 'shop', display_name: '', workspace: { id: 1, name: 'team' }, cluster: { id: 2, name: 'east' },
        status: 'ready', in_sync: true, workloads: { total: 2, ready }, pods: { total: 2, running: ready, failed: 0 },
        restarts: 3, alerts: { open: 1, firing: 1 }, attention: ready < 2 ? 2 : 0, link: '/workspaces/1/servicemaps/7',
      },
    ],
  }, { link: '/servicemaps?workspace=1' });

function developerDashboard(ready: number): Dashboard {
  return {
    generated_at: now,
    roles: ['developer'],
    groups: ['workspace.1', 'cluster.2.ns.shop'],
    tiles: [
      serviceMaps(ready),
      tile('releases', 0, { by_status: {}, total: 0, failed: 0, in_progress: 0, releases: [], rollouts: [] }),
      tile('builds', 0, { running: 0, failed: 0, succeeded: 0, window_hours: 24, runs: [] }),
      tile('my_quota', 0, { allocations: [], count: 0 }, { as_of: null }),
    ],
  };
}

describe('DashboardPage', () => {
  afterEach(async () => {
    getSocket().stop();
    FakeWebSocket.reset();
    await i18n.changeLanguage('en');
  });

  it('shows the tiles of my roles, links to their lists, says how fresh and refetches on live events', async () => {
    let ready = 1;
    const seen = mockFetch({ 'GET /api/dashboard/': () => json(developerDashboard(ready)) });
    renderAt(<DashboardPage />, { queryClient: testQueryClient(dev) });
    const maps = await screen.findByTestId('tile-service_maps');
    expect(screen.getByTestId('dashboard-role')).toHaveTextContent('Role: User');
    expect(screen.getByTestId('dashboard-roles')).toHaveTextContent('developer');
    expect(maps).toHaveAttribute('data-attention', '2');
    expect(within(maps).getByTestId('tile-service_maps-link')).toHaveAttribute('href', '/servicemaps?workspace=1');
    expect(within(maps).getByTestId('service-map-7-figures')).toHaveTextContent('1/2 workloads ready · 3 restarts · 1 alert');
    expect(within(maps).getByTestId('tile-service_maps-fresh')).toHaveTextContent(/Updated/);
    expect(screen.getByTestId('tile-my_quota-fresh')).toHaveTextContent('Not heard from yet');
    // Empty states say what to do next.
    expect(screen.getByTestId('releases-empty')).toHaveTextContent('Deploy from the catalog');
    expect(screen.getByTestId('builds-empty')).toHaveTextContent('Create a build definition');
    expect(document.body).not.toHaveTextContent(/upcoming releases/i);

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'cluster.2.ns.shop' });
    act(() => ws.serverSend({ type: 'subscribed', group: 'cluster.2.ns.shop', seq: 1 }));
    ready = 2;
    const before = seen.length;
    act(() => ws.serverSend({ type: 'objects.changed', group: 'cluster.2.ns.shop', seq: 2, data: { changes: [] } }));
    await waitFor(
      () => expect(screen.getByTestId('service-map-7-figures')).toHaveTextContent('2/2 workloads ready'),
      { timeout: 4000 },
    );
    expect(seen.length).toBe(before + 1);
    expect(screen.getByTestId('tile-service_maps')).toHaveAttribute('data-attention', '0');
  });

  it('tells a user without a role or workspace what to do', async () => {
    mockFetch({ 'GET /api/dashboard/': () => json({ generated_at: now, roles: [], groups: [], tiles: [] }) });
    renderAt(<DashboardPage />, { queryClient: testQueryClient(dev) });
    expect(await screen.findByTestId('dashboard-empty')).toHaveTextContent('Ask a workspace manager to add you');
  });

  it('speaks Korean', async () => {
    await i18n.changeLanguage('ko');
    mockFetch({ 'GET /api/dashboard/': () => json(developerDashboard(2)) });
    renderAt(<DashboardPage />, { queryClient: testQueryClient(dev) });
    const maps = await screen.findByTestId('tile-service_maps');
    expect(maps).toHaveTextContent('내 서비스맵');
    expect(within(maps).getByTestId('service-map-7-figures')).toHaveTextContent('워크로드 2/2 준비됨');
    expect(screen.getByTestId('tile-service_maps-link')).toHaveTextContent('목록 보기');
  });
});

describe('debounce', () => {
  it('calls once after a burst, and at least every maxWait while events keep coming', () => {
    vi.useFakeTimers();
    try {
      const fn = vi.fn();
      const d = debounce(fn, 100, 250);
      d.call();
      vi.advanceTimersByTime(50);
      d.call();
      vi.advanceTimersByTime(99);
      expect(fn).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(fn).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 6; i += 1) {
        d.call();
        vi.advanceTimersByTime(60);
      }
      expect(fn).toHaveBeenCalledTimes(2);
      d.cancel();
    } finally {
      vi.useRealTimers();
    }
  });
});
