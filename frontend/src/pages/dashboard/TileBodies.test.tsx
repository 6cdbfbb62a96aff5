import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../../test/utils';
import { DashboardPage } from './DashboardPage';
import type { Dashboard, Tile } from './types';

const now = new Date().toISOString();
const old = new Date(Date.now() - 3600_000).toISOString();
const east = { id: 2, name: 'east', display_name: '', status: 'unreachable', freshness: 'unreachable', last_sync: old, link: '/clusters/2' };

function tile(key: string, role: Tile['role'], attention: Tile['attention'], link: string, data: object, as_of = now): Tile {
  return { key, role, attention, as_of, link, data: data as Tile['data'] };
}

const admin: Dashboard = {
  generated_at: now,
  roles: ['admin', 'operator'],
  groups: ['fleet', 'alerts', 'audit'],
  tiles: [
    tile('fleet', 'admin', 3, '/clusters?status=unreachable', {
      clusters: { total: 3, by_status: { connected: 2, unreachable: 1 }, by_freshness: { fresh: 2, unreachable: 1 } },
      nodes: { total: 9, not_ready: 1 },
      certificates: { within_days: 30, count: 1, expiring: [{ id: 3, name: 'west', not_after: now, days: 5, link: '/clusters/3' }] },
      attention: [east],
    }, old),
    tile('portal_health', 'admin', 2, '/admin', {
      workers: { alive: 1, total: 2, known: true, list: [] },
      watchers: { clusters: 3, unwatched: 1, lagging: 1, lag_warn_seconds: 300, worst: [{ id: 2, name: 'east', lag_seconds: null, watched: false, freshness: 'unreachable', link: '/clusters/2' }] },
      outbox: { pending: 2, sending: 0, oldest_age_seconds: 30 },
    }),
    tile('alerts', 'admin', 3, '/alerts?state=open&severity=critical', {
      by_severity: { critical: { firing: 1, acknowledged: 0, pending: 0 }, warning: { firing: 0, acknowledged: 1, pending: 0 }, info: {} },
      open: 2, firing: 1,
    }),
    tile('capacity', 'operator', 1, '/monitoring', {
      total: 1, trend_hours: 6,
      clusters: [{ id: 1, name: 'north', freshness: 'fresh', last_sync: now, cpu: { requested: 3, allocatable: 4, ratio: 0.75 }, memory: { requested: 2 ** 30, allocatable: 2 ** 32, ratio: 0.25 }, trend: { cpu: [[old, 0.5], [now, 0.75]], memory: [] }, link: '/monitoring/clusters/1' }],
    }),
    tile('nodes', 'operator', 3, '/clusters/2/nodes', { count: 1, nodes: [{ cluster: { id: 2, name: 'east' }, name: 'n1', ready: false, unschedulable: false, conditions: ['MemoryPressure'], link: '/clusters/2/nodes' }] }),
    tile('firing', 'operator', 3, '/alerts?state=firing', { count: 1, by_severity: { critical: 1 }, alerts: [{ id: 5, severity: 'critical', state: 'firing', rule: 'Node not ready', cluster: { id: 2, name: 'east' }, namespace: '', subject_kind: 'Node', subject_name: 'n1', message: 'Node n1 is not ready', message_code: '', message_params: {}, fired_at: now, link: '/alerts/5' }] }),
    tile('events', 'operator', 1, '/monitoring/events?type=Warning', { window_minutes: 60, count: 2, reasons: [{ reason: 'BackOff', count: 2 }], events: [{ id: 1, cluster: { id: 1, name: 'north' }, namespace: 'shop', reason: 'BackOff', message: 'x', object_kind: 'Pod', object_name: 'web-1', count: 2, last_seen: now }] }),
    tile('cost', 'admin', 0, '/monitoring/metering?group=workspace', { month: '2026-12', currencies: ['KRW'], total: { KRW: '1200' }, count: 1, unpriced: false, workspaces: [{ workspace: { id: 1, name: 'team' }, costs: { KRW: '1200' }, unpriced: false, cpu_core_hours: 10, memory_gib_hours: 20, link: '/monitoring/metering?group=workspace&workspace=1' }] }),
    tile('quota', 'admin', 0, '/admin/quotas', { count: 1, workspaces: 1, allocations: [{ workspace: { id: 1, name: 'team', display_name: '' }, cluster: { id: 1, name: 'north' }, quota: { 'requests.cpu': '4' }, used: { 'requests.cpu': '1' }, ratio: 0.25, link: '/workspaces/1' }] }),
    tile('audit', 'admin', 0, '/admin/audit', { window_hours: 24, by_outcome: { success: 4 }, entries: [{ id: 1, timestamp: now, actor: 'admin', action: 'cluster.create', target: 'east', outcome: 'success' }] }),
  ],
};

describe('admin and operator tiles', () => {
  it('render their figures and link to the filtered lists', async () => {
    mockFetch({ 'GET /api/dashboard/': () => json(admin) });
    renderAt(<DashboardPage />, { queryClient: testQueryClient(adminUser) });
    const fleet = await screen.findByTestId('tile-fleet');
    expect(within(fleet).getByTestId('tile-fleet-link')).toHaveAttribute('href', '/clusters?status=unreachable');
    expect(within(fleet).getByTestId('fleet-status-unreachable')).toHaveTextContent('1 Unreachable');
    expect(within(fleet).getByTestId('fleet-certificates')).toHaveTextContent('1');
    expect(within(fleet).getByTestId('tile-fleet-fresh')).toHaveTextContent('Last known');
    expect(fleet).toHaveTextContent('expires in 5 days');
    expect(screen.getByTestId('health-workers')).toHaveTextContent('1/2');
    expect(screen.getByTestId('tile-portal_health')).toHaveTextContent('no watcher holds this cluster');
    expect(screen.getByTestId('alerts-critical')).toHaveTextContent('1');
    expect(screen.getByRole('img', { name: /CPU requested on north over time, now 75%/ })).toBeInTheDocument();
    expect(screen.getByTestId('capacity-1')).toHaveTextContent('75%');
    expect(screen.getByTestId('nodes-count')).toHaveTextContent('1');
    expect(screen.getByTestId('firing-list')).toHaveTextContent('Node not ready');
    expect(screen.getByTestId('events-count')).toHaveTextContent('2');
    expect(screen.getByTestId('cost-list')).toHaveTextContent('team');
    expect(screen.getByTestId('quota-list')).toHaveTextContent('25% used');
    expect(screen.getByTestId('audit-list')).toHaveTextContent('cluster.create');
    // In the order the server gave (what needs action first), each with one heading.
    const order = screen.getAllByRole('heading', { level: 2 }).map((h) => h.textContent);
    expect(order.slice(0, 3)).toEqual(['Fleet health', 'Portal health', 'Alerts by severity']);
  });
});
