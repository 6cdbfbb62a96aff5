import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { User } from '../api/types';
import i18n from '../i18n';
import { cluster, clusterDetail, nodeRow, page, podRow } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { serviceMap, workspace } from '../test/workspaces';
import { MonitoringRoutes } from './MonitoringRoutes';
import { chart, top } from './testData';
import type { TopWhat } from './types';

vi.mock('uplot', async () => (await import('./testUplot')).uplotModule);

const member: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

function params(requests: Request[], path: string): URLSearchParams[] {
  return requests.filter((r) => new URL(r.url).pathname === path).map((r) => new URL(r.url).searchParams);
}

function at(route: string, me: User = adminUser) {
  return renderAt(<MonitoringRoutes />, { route, path: '/monitoring/*', queryClient: testQueryClient(me) });
}

describe('monitoring overview', () => {
  it('shows an admin the fleet chart with its deploy marker, the top lists, and a cluster and range to pick', async () => {
    const seen = mockFetch({
      'GET /api/clusters/': () => json(page([cluster(1, { name: 'seoul', display_name: 'Seoul' })])),
      'GET /api/monitoring/charts/': (r) => json(chart({ level: new URL(r.url).searchParams.get('level') === 'fleet' ? 'fleet' : 'cluster' })),
      'GET /api/monitoring/top/': (r) => {
        const what = new URL(r.url).searchParams.get('what') as TopWhat;
        return json(top(what, what === 'nodes_fullest' ? [{ cluster_id: 1, cluster: 'seoul', name: 'node-a', value: 3.5, ratio: 0.92, unit: 'cores' }] : []));
      },
    });
    at('/monitoring');
    const card = await screen.findByTestId('fleet-chart');
    expect(await within(card).findByTestId('panel-cpu')).toBeInTheDocument();
    expect(within(card).getByTestId('panel-mem')).toBeInTheDocument();
    // the marker: a line and a flag with its tooltip on the plot, and an entry under the chart
    const flags = within(within(card).getByTestId('panel-cpu')).getAllByTestId('marker-flag');
    expect(flags).toHaveLength(1);
    expect(flags[0]).toHaveAttribute('data-kind', 'deploy');
    expect(within(flags[0] as HTMLElement).getByTestId('marker-tip')).toHaveTextContent('Deploy: web revision 3');
    const entry = within(card).getByTestId('chart-marker');
    expect(entry).toHaveTextContent('Deploy: web revision 3');
    expect(entry).toHaveTextContent('by ada');
    expect(within(card).getByTestId('chart-freshness')).toHaveTextContent(/Data is stale: last sample .* · raw samples/);
    expect(within(card).getByTestId('chart-pods')).toHaveTextContent('Pods now: 12');
    expect(params(seen, '/api/monitoring/charts/')[0]?.get('level')).toBe('fleet');
    expect(params(seen, '/api/monitoring/charts/')[0]?.get('step')).toBe('30');

    const nodes = await screen.findByTestId('top-nodes_fullest');
    expect(await within(nodes).findByText('node-a')).toHaveAttribute('href', '/monitoring/clusters/1/nodes/node-a');
    expect(within(nodes).getByText('92%')).toBeInTheDocument();
    expect(within(nodes).getByText('3.5')).toBeInTheDocument();
    expect(within(nodes).getByText('seoul')).toBeInTheDocument();

    const user = userEvent.setup();
    await user.click(screen.getByTestId('range-24h'));
    await waitFor(() => expect(params(seen, '/api/monitoring/charts/').some((p) => p.get('step') === '900')).toBe(true));
    expect(screen.getByTestId('location')).toHaveTextContent('/monitoring?range=24h');

    await user.selectOptions(screen.getByTestId('cluster-picker'), '1');
    await waitFor(() => expect(params(seen, '/api/monitoring/charts/').some((p) => p.get('level') === 'cluster' && p.get('cluster') === '1')).toBe(true));
    expect(params(seen, '/api/monitoring/top/').some((p) => p.get('cluster') === '1')).toBe(true);
    expect(screen.getByTestId('open-cluster')).toHaveAttribute('href', '/monitoring/clusters/1');

    // a top list switches between CPU and memory
    await user.click(within(screen.getByTestId('top-busiest_pods')).getByTestId('top-busiest_pods-memory'));
    await waitFor(() => expect(params(seen, '/api/monitoring/top/').some((p) => p.get('what') === 'busiest_pods' && p.get('resource') === 'memory')).toBe(true));
  });

  it("shows a member their workspaces' charts and their service maps", async () => {
    const seen = mockFetch({
      'GET /api/workspaces/': () => json(page([workspace(1)])),
      'GET /api/workspaces/servicemaps/': () => json(page([serviceMap(7)])),
      'GET /api/monitoring/charts/': () => json(chart({ level: 'workspace', markers: [] })),
    });
    at('/monitoring', member);
    expect(await screen.findByTestId('workspace-chart-1')).toHaveTextContent('Team 1');
    await screen.findAllByTestId('panel-cpu');
    expect(screen.queryByTestId('fleet-chart')).not.toBeInTheDocument();
    expect(screen.queryByTestId('chart-markers')).not.toBeInTheDocument();
    const chartAsked = params(seen, '/api/monitoring/charts/').find((p) => p.get('level') === 'workspace');
    expect(chartAsked?.get('level')).toBe('workspace');
    expect(chartAsked?.get('workspace')).toBe('1');
    expect(await screen.findByRole('link', { name: 'Shop 7' })).toHaveAttribute('href', '/monitoring/servicemaps/7');
    expect(await screen.findByTestId('servicemap-chart-7')).toHaveTextContent('Service map Shop 7');
    expect(params(seen, '/api/monitoring/charts/').some((p) => p.get('level') === 'servicemap' && p.get('service_map') === '7')).toBe(true);
    expect(screen.queryByText('Price sheets')).not.toBeInTheDocument(); // admins only
  });

  it('says so when a chart has no samples yet, and shows the error of a failed chart by its code', async () => {
    mockFetch({
      'GET /api/workspaces/': () => json(page([workspace(1), workspace(2)])),
      'GET /api/workspaces/servicemaps/': () => json(page([])),
      'GET /api/monitoring/charts/': (r) =>
        new URL(r.url).searchParams.get('workspace') === '1'
          ? json(chart({ series: [], markers: [], last_sample: null }))
          : json({ detail: 'No such workspace.', code: 'not_found', params: { what: 'workspace' } }, { status: 404 }),
    });
    at('/monitoring', member);
    const first = await screen.findByTestId('workspace-chart-1');
    expect(await within(first).findByTestId('chart-empty')).toBeInTheDocument();
    expect(within(first).getByTestId('chart-freshness')).toHaveTextContent('No samples yet');
    const second = screen.getByTestId('workspace-chart-2');
    expect(await within(second).findByRole('alert')).toHaveTextContent('No such workspace.');
  });
});

describe('scope pages', () => {
  it('shows a cluster with its nodes, in Korean', async () => {
    await i18n.changeLanguage('ko');
    try {
      const seen = mockFetch({
        'GET /api/clusters/1/': () => json(clusterDetail(1, { name: 'seoul', display_name: '' })),
        'GET /api/clusters/1/nodes/': () => json(page([nodeRow('node-a')])),
        'GET /api/monitoring/charts/': () => json(chart()),
        'GET /api/monitoring/top/': (r) => json(top(new URL(r.url).searchParams.get('what') as 'busiest_pods')),
      });
      at('/monitoring/clusters/1?range=7d');
      expect(await screen.findByRole('heading', { name: '클러스터 seoul' })).toBeInTheDocument();
      const card = screen.getByTestId('cluster-chart');
      expect(await within(card).findByTestId('chart-marker')).toHaveTextContent('배포: web revision 3');
      expect(within(card).getByTestId('chart-marker')).toHaveTextContent('ada,');
      expect(within(card).getByTestId('chart-freshness')).toHaveTextContent('원본 샘플');
      expect(await screen.findByRole('link', { name: 'node-a' })).toHaveAttribute('href', '/monitoring/clusters/1/nodes/node-a');
      expect(screen.getByTestId('range-7d')).toHaveAttribute('aria-pressed', 'true');
      const asked = params(seen, '/api/monitoring/charts/')[0];
      expect(asked?.get('level')).toBe('cluster');
      expect(asked?.get('step')).toBe('7200');
      expect(screen.getByTestId('events-link')).toHaveAttribute('href', '/monitoring/events?cluster=1');
    } finally {
      await act(() => i18n.changeLanguage('en'));
    }
  });

  it('charts a pod, then one of its containers', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/pods/': () =>
        json(page([podRow('shop', 'web-1', {}, { containers: [{ name: 'web' }, { name: 'sidecar' }] as never })])),
      'GET /api/monitoring/charts/': () => json(chart({ level: 'pod' })),
    });
    at('/monitoring/clusters/1/pods/shop/web-1');
    await screen.findByTestId('pod-chart');
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByTestId('container-picker'), 'sidecar');
    await waitFor(() => expect(params(seen, '/api/monitoring/charts/').some((p) => p.get('level') === 'container' && p.get('container') === 'sidecar')).toBe(true));
    const first = params(seen, '/api/monitoring/charts/')[0];
    expect([first?.get('level'), first?.get('cluster'), first?.get('namespace'), first?.get('pod')]).toEqual(['pod', '1', 'shop', 'web-1']);
    expect(screen.getByRole('heading', { name: 'Container sidecar' })).toBeInTheDocument();
  });

  it('charts a workload and lists its pods', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/pods/': () => json(page([podRow('shop', 'web-5d8f-abcde')])),
      'GET /api/monitoring/charts/': () => json(chart({ level: 'workload' })),
    });
    at('/monitoring/clusters/1/workloads/shop/Deployment/web');
    expect(await screen.findByRole('link', { name: 'web-5d8f-abcde' })).toHaveAttribute('href', '/monitoring/clusters/1/pods/shop/web-5d8f-abcde');
    const asked = params(seen, '/api/monitoring/charts/')[0];
    expect([asked?.get('level'), asked?.get('workload_kind'), asked?.get('workload_name')]).toEqual(['workload', 'Deployment', 'web']);
  });

  it("charts a member's service map with its workloads and top lists", async () => {
    const seen = mockFetch({
      'GET /api/workspaces/servicemaps/': () => json(page([serviceMap(7)])),
      'GET /api/clusters/1/workloads/': () =>
        json(page([{ ...podRow('shop-7', 'web'), kind: 'Deployment' }, { ...podRow('shop-7', 'web-5d8f'), kind: 'ReplicaSet' }])),
      'GET /api/monitoring/charts/': () => json(chart({ level: 'servicemap' })),
      'GET /api/monitoring/top/': (r) => json(top(new URL(r.url).searchParams.get('what') as TopWhat)),
    });
    at('/monitoring/servicemaps/7', member);
    expect(await screen.findByRole('heading', { name: 'Service map Shop 7' })).toBeInTheDocument();
    expect(await screen.findByRole('link', { name: 'Deployment/web' })).toHaveAttribute('href', '/monitoring/clusters/1/workloads/shop-7/Deployment/web');
    expect(screen.queryByRole('link', { name: 'ReplicaSet/web-5d8f' })).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Team 1' })).toHaveAttribute('href', '/monitoring/workspaces/1');
    await waitFor(() => expect(params(seen, '/api/monitoring/top/').length).toBe(2));
    expect(params(seen, '/api/monitoring/top/').every((p) => p.get('service_map') === '7')).toBe(true);
    expect(params(seen, '/api/monitoring/charts/')[0]?.get('service_map')).toBe('7');
    expect(params(seen, '/api/workspaces/servicemaps/').length).toBeGreaterThan(0);
  });

  it('charts a node', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1, { name: 'seoul', display_name: '' })),
      'GET /api/monitoring/charts/': () => json(chart({ level: 'node', markers: [] })),
    });
    at('/monitoring/clusters/1/nodes/node-a');
    expect(await screen.findByRole('heading', { name: 'Node node-a' })).toBeInTheDocument();
    expect(await screen.findByRole('link', { name: 'seoul' })).toHaveAttribute('href', '/monitoring/clusters/1');
    const asked = params(seen, '/api/monitoring/charts/')[0];
    expect([asked?.get('level'), asked?.get('cluster'), asked?.get('node')]).toEqual(['node', '1', 'node-a']);
    expect(screen.getByTestId('events-link')).toHaveAttribute('href', '/monitoring/events?cluster=1&object_kind=Node&object_name=node-a');
  });

  it('asks for a custom time range', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/monitoring/charts/': () => json(chart({ level: 'node' })),
    });
    at('/monitoring/clusters/1/nodes/node-a');
    await screen.findByTestId('node-chart');
    const user = userEvent.setup();
    await user.click(screen.getByTestId('range-custom'));
    const from = screen.getByTestId('range-from');
    const to = screen.getByTestId('range-to');
    await user.clear(from);
    await user.type(from, '2026-11-30T10:00');
    await user.clear(to);
    await user.type(to, '2026-11-30T09:00');
    expect(screen.getByTestId('range-apply')).toBeDisabled(); // the end before the start
    await user.clear(to);
    await user.type(to, '2026-11-30T12:00');
    await user.click(screen.getByTestId('range-apply'));
    const start = Math.floor(new Date('2026-11-30T10:00').getTime() / 1000);
    const end = Math.floor(new Date('2026-11-30T12:00').getTime() / 1000);
    await waitFor(() => expect(params(seen, '/api/monitoring/charts/').some((p) => p.get('start') === String(start) && p.get('end') === String(end) && p.get('step') === '60')).toBe(true));
    expect(screen.getByTestId('location')).toHaveTextContent('range=custom');
    expect(screen.getByTestId('range-custom')).toHaveAttribute('aria-pressed', 'true');
  });
});
