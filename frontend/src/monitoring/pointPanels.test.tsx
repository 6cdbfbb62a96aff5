import { act, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { User } from '../api/types';
import i18n from '../i18n';
import { clusterDetail, page, podRow } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { serviceMap } from '../test/workspaces';
import { pointPanelsOf, panelsOf } from './chartData';
import { unitText } from './format';
import { MonitoringRoutes } from './MonitoringRoutes';
import { T0, chart } from './testData';
import type { ChartSeries, TopWhat } from './types';

vi.mock('uplot', async () => (await import('./testUplot')).uplotModule);

const member: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };
const xs = [T0, T0 + 60, T0 + 120];

/** The point series of a service map as the API sends them (docs/charts-api.md "Point metrics"). */
const POINTS: ChartSeries[] = [
  { metric: 'net_rx_bytes_per_second', unit: 'bytes_per_second', points: [[T0, 1200], [T0 + 60, 1600], [T0 + 120, null]] },
  { metric: 'net_tx_bytes_per_second', unit: 'bytes_per_second', points: [[T0, 10], [T0 + 60, 20], [T0 + 120, 30]] },
  { metric: 'restarts', unit: 'count', points: [[T0, null], [T0 + 60, 2], [T0 + 120, 3]] },
  { metric: 'pvc_used_ratio', unit: 'ratio', label: 'logs', points: [[T0, 0.2], [T0 + 60, null], [T0 + 120, null]] },
  { metric: 'pvc_used_ratio', unit: 'ratio', label: 'data-api-1', points: [[T0, 0.5], [T0 + 60, 0.6], [T0 + 120, 0.9]] },
];

function at(route: string, me: User = adminUser) {
  return renderAt(<MonitoringRoutes />, { route, path: '/monitoring/*', queryClient: testQueryClient(me) });
}

describe('point metric panels: data', () => {
  it('maps network, restarts and each claim to their panels, in order, the fill in percent', () => {
    const panels = pointPanelsOf(chart({ series: [...chart().series, ...[...POINTS].reverse()] }));
    expect(panels.map((p) => [p.kind, p.unit, p.max])).toEqual([
      ['network', 'bytes_per_second', null],
      ['restarts', 'count', null],
      ['volumes', 'percent', 100],
    ]);
    const [network, restarts, volumes] = panels;
    expect(network?.xs).toEqual(xs);
    expect(network?.series.map((s) => [s.metric, s.values])).toEqual([
      ['net_rx_bytes_per_second', [1200, 1600, null]],
      ['net_tx_bytes_per_second', [10, 20, 30]],
    ]);
    expect(network?.series[0]?.stroke).not.toBe(network?.series[1]?.stroke);
    expect(restarts?.series.map((s) => s.values)).toEqual([[null, 2, 3]]);
    // one series per claim, sorted by claim, 0-1 ratios as percent
    expect(volumes?.series.map((s) => [s.key, s.label, s.values])).toEqual([
      ['pvc_used_ratio:data-api-1', 'data-api-1', [50, 60, 90]],
      ['pvc_used_ratio:logs', 'logs', [20, null, null]],
    ]);
    expect(volumes?.series[0]?.stroke).not.toBe(volumes?.series[1]?.stroke);
    // the CPU and memory panels are as before: the point metrics are not theirs
    expect(panelsOf(chart({ series: [...chart().series, ...POINTS] })).map((p) => p.resource)).toEqual(['cpu', 'mem']);
  });

  it("has a disk panel for a pod's filesystem and none without point series", () => {
    const disk = pointPanelsOf({ series: [{ metric: 'fs_used_bytes', unit: 'bytes', points: [[T0, 1024 ** 2]] }] });
    expect(disk.map((p) => [p.kind, p.unit])).toEqual([['disk', 'bytes']]);
    expect(pointPanelsOf(chart())).toEqual([]);
    expect(pointPanelsOf({ series: [] })).toEqual([]);
    // a metric the console does not know yet is left out rather than drawn wrongly
    expect(pointPanelsOf({ series: [{ metric: 'gpu_used', unit: 'ratio', points: [[T0, 1]] }] })).toEqual([]);
  });

  it('formats the point units', () => {
    expect(unitText(1536, 'bytes_per_second')).toBe('1.5 KiB/s');
    expect(unitText(null, 'bytes_per_second')).toBe('—');
    expect(unitText(87.46, 'percent')).toBe('87.5%');
    expect(unitText(0.875, 'ratio')).toBe('87.5%');
    expect(unitText(3, 'count')).toBe('3');
  });
});

describe('point metric panels: pages', () => {
  it('shows a service map its network, restarts and volumes, in Korean', async () => {
    await i18n.changeLanguage('ko');
    try {
      mockFetch({
        'GET /api/workspaces/servicemaps/': () => json(page([serviceMap(7)])),
        'GET /api/clusters/1/workloads/': () => json(page([])),
        'GET /api/monitoring/charts/': () => json(chart({ level: 'servicemap', series: [...chart().series, ...POINTS] })),
        'GET /api/monitoring/top/': (r) => json({ what: new URL(r.url).searchParams.get('what') as TopWhat, items: [] }),
      });
      at('/monitoring/servicemaps/7', member);
      const card = await screen.findByTestId('servicemap-chart');
      expect(await within(card).findByTestId('panel-network')).toHaveTextContent('네트워크');
      expect(within(card).getByTestId('panel-restarts')).toHaveTextContent('재시작');
      const volumes = within(card).getByTestId('panel-volumes');
      expect(volumes).toHaveTextContent('볼륨');
      const claims = within(volumes).getAllByTestId('volume-claim');
      expect(claims.map((c) => c.getAttribute('data-claim'))).toEqual(['data-api-1', 'logs']);
      expect(claims[0]).toHaveTextContent('data-api-1 90%'); // its newest fill
      expect(claims[1]).toHaveTextContent('logs 20%');
      expect(within(card).queryByTestId('panel-disk')).not.toBeInTheDocument();
      expect(within(card).getByTestId('panel-cpu')).toBeInTheDocument();
    } finally {
      await act(() => i18n.changeLanguage('en'));
    }
  });

  it('shows a pod its panels in English, and none when the cluster has no point metrics', async () => {
    let withPoints = true;
    mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/pods/': () => json(page([podRow('shop', 'web-1')])),
      'GET /api/monitoring/charts/': () =>
        json(
          chart({
            level: 'pod',
            series: [
              ...chart().series,
              ...(withPoints ? [POINTS[0] as ChartSeries, { metric: 'fs_used_bytes', unit: 'bytes', points: [[T0, 3 * 1024 ** 2]] } as ChartSeries] : []),
            ],
          }),
        ),
    });
    const first = at('/monitoring/clusters/1/pods/shop/web-1');
    const card = await screen.findByTestId('pod-chart');
    expect(await within(card).findByTestId('panel-network')).toHaveTextContent('Network');
    expect(within(card).getByTestId('panel-disk')).toHaveTextContent('Disk');
    expect(within(card).queryByTestId('panel-restarts')).not.toBeInTheDocument();
    expect(within(card).queryByTestId('panel-volumes')).not.toBeInTheDocument();
    first.unmount();

    withPoints = false;
    at('/monitoring/clusters/1/workloads/shop/Deployment/web');
    const workload = await screen.findByTestId('workload-chart');
    expect(await within(workload).findByTestId('panel-cpu')).toBeInTheDocument();
    expect(within(workload).queryByTestId('point-panels')).not.toBeInTheDocument();
  });

  it('leaves the points off pages that do not ask for them', async () => {
    mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/nodes/': () => json(page([])),
      'GET /api/monitoring/charts/': () => json(chart({ series: [...chart().series, ...POINTS] })),
      'GET /api/monitoring/top/': (r) => json({ what: new URL(r.url).searchParams.get('what') as TopWhat, items: [] }),
    });
    at('/monitoring/clusters/1');
    const card = await screen.findByTestId('cluster-chart');
    expect(await within(card).findByTestId('panel-cpu')).toBeInTheDocument();
    expect(within(card).queryByTestId('point-panels')).not.toBeInTheDocument();
  });
});
