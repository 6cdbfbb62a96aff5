import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { User } from '../api/types';
import i18n from '../i18n';
import { cluster, page } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { tableViewsHandler } from '../components/table/testing';
import { meteringCsvUrl } from './api';
import { eventQueryOf } from './EventsPage';
import { barsOf, costText, rowLabel, totalsOf } from './MeteringPage';
import { MonitoringRoutes } from './MonitoringRoutes';
import { bodyOf } from './PricesPage';
import { meteringReport, priceSheet } from './testData';
import type { EventRow } from './types';

vi.mock('uplot', async () => (await import('./testUplot')).uplotModule);

const member: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

function at(route: string, me: User = adminUser) {
  return renderAt(<MonitoringRoutes />, { route, path: '/monitoring/*', queryClient: testQueryClient(me) });
}

function event(id: number, overrides: Partial<EventRow> = {}): EventRow {
  return {
    id,
    cluster: { id: 1, name: 'seoul' },
    service_map: null,
    namespace: 'shop',
    type: 'Normal',
    reason: 'Scheduled',
    message: 'Successfully assigned shop/web-1 to node-a',
    object_kind: 'Pod',
    object_name: 'web-1',
    count: 1,
    first_seen: '2026-11-30T00:00:00Z',
    last_seen: '2026-11-30T00:00:00Z',
    ...overrides,
  };
}

describe('events', () => {
  it('filters from the URL, highlights warnings and loads more by cursor', async () => {
    const seen = mockFetch({
      'GET /api/clusters/': () => json(page([cluster(1, { name: 'seoul' })])),
      'GET /api/monitoring/events/': (r) => {
        const cursor = new URL(r.url).searchParams.get('cursor');
        if (cursor === 'abc') return json(page([event(3, { reason: 'Pulled' })]));
        return json(page([event(1, { type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container' }), event(2)], { next: 'http://localhost/api/monitoring/events/?cursor=abc' }));
      },
      ...tableViewsHandler(),
    });
    at('/monitoring/events?cluster=1&type=Warning&reason=BackOff');
    // the table asks for the next page by cursor as soon as the end of the list is in view
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(3));
    const rows = screen.getAllByTestId('event-row');
    expect(rows[0]!.querySelector('[data-type]')).toHaveAttribute('data-type', 'Warning');
    expect(rows[0]).toHaveClass('row-warning');
    expect(rows[1]).not.toHaveClass('row-warning');
    expect(within(rows[0] as HTMLElement).getByText('Back-off restarting failed container')).toBeInTheDocument();
    expect(within(rows[0] as HTMLElement).getByRole('link', { name: 'Pod/web-1' })).toHaveAttribute('href', '/monitoring/clusters/1/pods/shop/web-1');
    expect(rows[0]).toHaveTextContent('seoul');
    const first = new URL(seen.find((r) => r.url.includes('/monitoring/events/'))?.url ?? '').searchParams;
    expect([first.get('cluster'), first.get('type'), first.get('reason')]).toEqual(['1', 'Warning', 'BackOff']);

    expect(seen.some((r) => new URL(r.url).searchParams.get('cursor') === 'abc')).toBe(true);
    expect(screen.queryByTestId('table-load-more')).not.toBeInTheDocument();

    const user = userEvent.setup();
    await user.click(screen.getByTestId('sort-last_seen'));
    await waitFor(() => expect(seen.some((r) => new URL(r.url).searchParams.get('ordering') === 'last_seen')).toBe(true));
    expect(screen.getByTestId('location')).toHaveTextContent('ordering=last_seen');

    await user.selectOptions(screen.getByTestId('events-type'), '');
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/monitoring/events?cluster=1&reason=BackOff&ordering=last_seen'));
    await user.click(screen.getByTestId('events-warnings-first'));
    await waitFor(() => expect(seen.some((r) => new URL(r.url).searchParams.get('ordering') === '-warning')).toBe(true));
  }, 15_000);

  it('reads only known filters', () => {
    expect(eventQueryOf(new URLSearchParams('cluster=x&type=Bad&namespace=%20shop%20&object_kind=Pod'))).toEqual({ namespace: 'shop', object_kind: 'Pod' });
  });
});

describe('metering', () => {
  it('shows the report with totals, idle capacity, a chart and the CSV link; regrouping asks again', async () => {
    const seen = mockFetch({
      'GET /api/workspaces/': () => json(page([])),
      'GET /api/clusters/': () => json(page([cluster(1, { name: 'seoul' })])),
      'GET /api/monitoring/metering/': (r) => {
        const group = new URL(r.url).searchParams.get('group');
        if (group === 'servicemap') {
          return json(meteringReport({ group: 'servicemap', rows: [{ ...meteringReport().rows[0]!, service_map: { id: 7, name: 'shop-7' }, cluster: { id: 1, name: 'seoul' } }] }));
        }
        return json(meteringReport());
      },
    });
    at('/monitoring/metering?month=2026-11');
    const rows = await screen.findAllByTestId('metering-row');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent('team-1');
    expect(rows[0]).toHaveTextContent('750.25');
    expect(within(rows[0] as HTMLElement).getByTestId('metering-cost')).toHaveTextContent('₩105,025');
    expect(screen.getByTestId('metering-total')).toHaveTextContent('760.25');
    expect(screen.getByTestId('metering-total')).toHaveTextContent('₩106,425');
    expect(screen.getByTestId('idle-row')).toHaveTextContent('seoul-prod');
    expect(screen.getByTestId('metering-chart')).toHaveTextContent('Cost by row');
    expect(screen.getByTestId('metering-csv')).toHaveAttribute('href', '/api/monitoring/metering/?month=2026-11&group=workspace&format=csv');

    const user = userEvent.setup();
    await user.selectOptions(screen.getByTestId('metering-group'), 'servicemap');
    await waitFor(() => expect(screen.getAllByTestId('metering-row')[0]).toHaveTextContent('shop-7'));
    expect(screen.getAllByTestId('metering-row')[0]).toHaveTextContent('seoul');
    expect(seen.some((r) => new URL(r.url).searchParams.get('group') === 'servicemap')).toBe(true);
    await user.selectOptions(screen.getByTestId('metering-cluster'), '1');
    await waitFor(() => expect(screen.getByTestId('metering-csv')).toHaveAttribute('href', '/api/monitoring/metering/?month=2026-11&group=servicemap&cluster=1&format=csv'));
  });

  it('hides idle capacity from members and says when a month is empty, in Korean', async () => {
    await act(() => i18n.changeLanguage('ko'));
    try {
      mockFetch({
        'GET /api/workspaces/': () => json(page([])),
        'GET /api/monitoring/metering/': () => json(meteringReport({ rows: [], totals: null, idle: [] })),
      });
      at('/monitoring/metering?month=2026-10', member);
      expect(await screen.findByTestId('metering-empty')).toHaveTextContent('2026-10에 기록된 사용량이 없습니다.');
      expect(screen.queryByTestId('metering-idle')).not.toBeInTheDocument();
      expect(screen.queryByTestId('metering-cluster')).not.toBeInTheDocument();
    } finally {
      await act(() => i18n.changeLanguage('en'));
    }
  });

  it('labels rows, totals and bars', () => {
    const report = meteringReport();
    expect(rowLabel({ ...report.rows[0]!, workload: { kind: 'Deployment', name: 'web' }, namespace: 'shop', cluster: { id: 1, name: 'seoul' } }, 'workload')).toEqual({ name: 'Deployment/web', context: 'seoul / shop' });
    expect(totalsOf({ totals: null })).toBeNull();
    expect(costText({ cost: null, currency: '', costs: { KRW: '1000', USD: '2.5' } }, 'en')).toBe('₩1,000 + $2.50');
    expect(costText({ cost: null, currency: '', costs: {} }, 'en')).toBe('—');
    expect(barsOf([{ ...report.rows[0]!, currency: 'USD' }, report.rows[1]!], 'workspace').measure).toBe('cpu'); // two currencies
    const bars = barsOf(report.rows, 'workspace');
    expect(bars).toEqual({ labels: ['team-1', 'team-2'], values: [105025, 1400], measure: 'cost' });
    expect(barsOf(report.rows.map((r) => ({ ...r, cost: null })), 'workspace').measure).toBe('cpu');
    expect(meteringCsvUrl({ month: '2026-11', group: 'cluster', cluster: 2 })).toBe('/api/monitoring/metering/?month=2026-11&group=cluster&cluster=2&format=csv');
  });
});

describe('price sheets', () => {
  it('lets an admin add a sheet, with the server errors at their fields', async () => {
    let posts = 0;
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'GET /api/clusters/': () => json(page([cluster(1, { name: 'seoul', display_name: '' })])),
      'GET /api/monitoring/prices/': () => json(posts > 1 ? [priceSheet(1), priceSheet(2, { name: 'eks default', cluster: null, provider: 'eks', currency: 'USD', cpu_core_hour: '0.04' })] : [priceSheet(1)]),
      'POST /api/monitoring/prices/': () => {
        posts += 1;
        if (posts === 1) return json({ detail: 'Invalid input.', code: 'invalid', errors: { cpu_core_hour: ['A valid number is required.'] } }, { status: 400 });
        return json(priceSheet(2), { status: 201 });
      },
    });
    at('/monitoring/prices');
    const row = await screen.findByTestId('price-row-seoul-prod');
    expect(row).toHaveTextContent('Cluster seoul');
    expect(row).toHaveTextContent('₩100');
    const user = userEvent.setup();
    await user.click(screen.getByTestId('price-new'));
    await user.type(screen.getByTestId('price-name'), 'eks default');
    await user.selectOptions(screen.getByTestId('price-target'), 'provider');
    await user.selectOptions(screen.getByTestId('price-provider'), 'eks');
    await user.selectOptions(screen.getByTestId('price-currency'), 'USD');
    await user.type(screen.getByTestId('price-cpu'), 'abc');
    await user.type(screen.getByTestId('price-memory'), '0.005');
    await user.click(screen.getByTestId('price-save'));
    expect(await screen.findByText('A valid number is required.')).toBeInTheDocument();
    expect(screen.getByTestId('price-cpu')).toHaveAttribute('aria-invalid', 'true');
    await user.clear(screen.getByTestId('price-cpu'));
    await user.type(screen.getByTestId('price-cpu'), '0.04');
    await user.click(screen.getByTestId('price-save'));
    expect(await screen.findByTestId('price-row-eks default')).toHaveTextContent('Provider eks');
    expect(screen.queryByTestId('price-form')).not.toBeInTheDocument();
    const post = seen.filter((r) => r.method === 'POST').at(-1);
    expect(await post?.json()).toMatchObject({ name: 'eks default', cluster: null, provider: 'eks', currency: 'USD', cpu_core_hour: '0.04', memory_gib_hour: '0.005' });
  });

  it('shows members the sheets without editing', async () => {
    mockFetch({
      'GET /api/clusters/': () => json(page([])),
      'GET /api/monitoring/prices/': () => json({ next: null, previous: null, results: [priceSheet(1, { cluster: { id: 1, name: 'seoul' } })] }),
    });
    at('/monitoring/prices', member);
    expect(await screen.findByTestId('price-row-seoul-prod')).toHaveTextContent('Cluster seoul');
    expect(screen.queryByTestId('price-new')).not.toBeInTheDocument();
    expect(screen.queryByTestId('price-edit')).not.toBeInTheDocument();
    expect(bodyOf(priceSheet(3, { cluster: { id: 4, name: 'x' } })).cluster).toBe(4);
  });
});
