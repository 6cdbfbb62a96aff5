import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { getSocket } from '../lib/socket';
import { cluster, page } from '../test/clusters';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { tableViewsHandler } from '../components/table/testing';
import { ClustersPage } from './ClustersPage';

function openSocket() {
  getSocket().start();
  const ws = FakeWebSocket.latest();
  act(() => ws.serverOpen());
  return ws;
}

/** The query of the last cluster-list request (the table also reads its saved column sets). */
const lastParams = (seen: Request[]) =>
  new URL(seen.filter((r) => new URL(r.url).pathname === '/api/clusters/').at(-1)!.url).searchParams;

describe('ClustersPage', () => {
  it('shows the status table with figures per cluster', async () => {
    mockFetch({ 'GET /api/clusters/': () => json(page([cluster(1, { display_name: 'Seoul prod', name: 'seoul-prod' })])) });
    renderAt(<ClustersPage />, { queryClient: testQueryClient(adminUser) });
    const row = await screen.findByTestId('cluster-row-seoul-prod');
    expect(row).toHaveTextContent('Seoul prod');
    expect(row).toHaveTextContent('seoul-prod');
    expect(row).toHaveTextContent('Connected');
    expect(row).toHaveTextContent('AWS EKS');
    expect(row).toHaveTextContent('ap-northeast-2');
    expect(row).toHaveTextContent('v1.32.4');
    expect(within(row).getByTestId('cell-nodes')).toHaveTextContent('3/3');
    expect(within(row).getByTestId('cell-pods')).toHaveTextContent('40/44/330');
    // CPU cores capacity / allocatable / requested and memory in GB
    expect(row).toHaveTextContent('24 / 23.4 / 6.5');
    expect(row).toHaveTextContent('96.0 / 93.1 / 12.0');
    expect(screen.getByTestId('register-cluster')).toHaveAttribute('href', '/clusters/new');
  });

  it('sorts on the server when a header is clicked, and sends the filters', async () => {
    const seen = mockFetch({ 'GET /api/clusters/': () => json(page([cluster(1)])), ...tableViewsHandler() });
    renderAt(<ClustersPage />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('cluster-row-c1');
    expect(lastParams(seen).has('ordering')).toBe(false);
    const user = userEvent.setup();
    await user.click(screen.getByTestId('sort-nodes_ready'));
    await waitFor(() => expect(lastParams(seen).get('ordering')).toBe('nodes_ready'));
    await user.click(screen.getByTestId('sort-nodes_ready'));
    await waitFor(() => expect(lastParams(seen).get('ordering')).toBe('-nodes_ready'));
    expect(screen.getByTestId('location')).toHaveTextContent('ordering=-nodes_ready');

    const filters = screen.getByTestId('clusters-filters');
    await user.selectOptions(within(filters).getByRole('combobox', { name: 'Status' }), 'unreachable');
    await user.selectOptions(within(filters).getByRole('combobox', { name: 'Provider' }), 'gke');
    await user.selectOptions(within(filters).getByRole('combobox', { name: 'Stage' }), 'prod');
    await user.type(within(filters).getByRole('searchbox'), 'seoul');
    await waitFor(() => expect(lastParams(seen).get('q')).toBe('seoul'));
    const params = lastParams(seen);
    expect(params.get('status')).toBe('unreachable');
    expect(params.get('provider')).toBe('gke');
    expect(params.get('stage')).toBe('prod');
    expect(params.get('ordering')).toBe('-nodes_ready');
    // A third click goes back to the server's default order.
    await user.click(screen.getByTestId('sort-nodes_ready'));
    await waitFor(() => expect(lastParams(seen).has('ordering')).toBe(false));
  }, 30_000);

  it('moves between rows with the arrow keys and opens a cluster with Enter', async () => {
    mockFetch({ 'GET /api/clusters/': () => json(page([cluster(1, { name: 'one' }), cluster(2, { name: 'two' })])), ...tableViewsHandler() });
    renderAt(<ClustersPage />, { queryClient: testQueryClient(adminUser) });
    const first = await screen.findByTestId('cluster-row-one');
    expect(screen.getByRole('table', { name: 'Clusters' })).toBeInTheDocument();
    act(() => first.focus());
    const user = userEvent.setup();
    await user.keyboard('{ArrowDown}');
    await waitFor(() => expect(screen.getByTestId('cluster-row-two')).toHaveFocus());
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/clusters/2'));
  });

  it('marks stale and unreachable clusters instead of hiding them', async () => {
    const old = new Date(Date.now() - 20 * 60_000).toISOString();
    mockFetch({
      'GET /api/clusters/': () =>
        json(
          page([
            cluster(1, { name: 'fresh' }),
            cluster(2, { name: 'stale', freshness: 'stale' }),
            cluster(3, { name: 'gone', status: 'unreachable', freshness: 'unreachable', last_sync: old }),
            // The server still says fresh, but nothing arrived for 20 minutes (watcher down?).
            cluster(4, { name: 'quiet', last_sync: old }),
          ]),
        ),
    });
    renderAt(<ClustersPage />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('cluster-row-fresh')).toHaveAttribute('data-freshness', 'fresh');
    expect(screen.getByTestId('cluster-row-stale')).toHaveAttribute('data-freshness', 'stale');
    expect(screen.getByTestId('cluster-row-stale')).toHaveClass('row-flagged');
    expect(screen.getByTestId('cluster-row-stale')).toHaveTextContent('Stale');
    expect(screen.getByTestId('cluster-row-gone')).toHaveAttribute('data-freshness', 'unreachable');
    expect(screen.getByTestId('cluster-row-gone')).toHaveTextContent('Unreachable');
    expect(screen.getByTestId('cluster-row-gone')).toHaveTextContent('20 minutes ago');
    expect(screen.getByTestId('cluster-row-quiet')).toHaveAttribute('data-freshness', 'stale');
    expect(screen.getByTestId('cluster-row-fresh')).not.toHaveClass('row-flagged');
  });

  it('patches rows from fleet cluster.updated and refetches on a seq gap', async () => {
    let calls = 0;
    mockFetch({
      'GET /api/clusters/': () => {
        calls += 1;
        return json(page(calls === 1 ? [cluster(1)] : [cluster(1), cluster(2, { name: 'new-one' })]));
      },
    });
    const { queryClient } = renderAt(<ClustersPage />, { queryClient: testQueryClient(adminUser) });
    const row = await screen.findByTestId('cluster-row-c1');
    const ws = openSocket();
    expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'fleet' });
    act(() => ws.serverSend({ type: 'subscribed', group: 'fleet', seq: 7 }));
    const updated = cluster(1, { status: 'unreachable', freshness: 'unreachable', summary: { ...cluster(1).summary, nodes_ready: 1 } });
    act(() => ws.serverSend({ type: 'cluster.updated', group: 'fleet', seq: 8, data: updated }));
    await waitFor(() => expect(within(row).getByTestId('cell-nodes')).toHaveTextContent('1/3'));
    expect(row).toHaveAttribute('data-freshness', 'unreachable');
    expect(calls).toBe(1); // patched in the cache, not refetched
    expect(queryClient.getQueryState(['clusters', 'list', { page_size: 200 }])?.dataUpdateCount).toBe(2);

    act(() => ws.serverSend({ type: 'cluster.updated', group: 'fleet', seq: 11, data: updated }));
    expect(await screen.findByTestId('cluster-row-new-one')).toBeInTheDocument();
    expect(calls).toBe(2);

    act(() => ws.serverSend({ type: 'cluster.deleted', group: 'fleet', seq: 12, data: { id: 2, name: 'new-one', deleted: true } }));
    await waitFor(() => expect(screen.queryByTestId('cluster-row-new-one')).not.toBeInTheDocument());
  });

  it('says when live updates are off', async () => {
    mockFetch({ 'GET /api/clusters/': () => json(page([])) });
    renderAt(<ClustersPage />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('clusters-empty')).toBeInTheDocument();
    expect(screen.getByTestId('clusters-live')).toHaveAttribute('data-live', 'false');
    openSocket();
    await waitFor(() => expect(screen.getByTestId('clusters-live')).toHaveAttribute('data-live', 'true'));
  });
});
