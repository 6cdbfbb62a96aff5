import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { page, podRow } from '../test/clusters';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { allocation, serviceMap, workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ServiceMapDetailPage } from './ServiceMapDetailPage';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };
const fresh = { freshness: { state: 'synced', last_event: new Date().toISOString() } };

function render(route: string, me: User) {
  return renderAt(<ServiceMapDetailPage />, { route, path: '/workspaces/:id/servicemaps/:sid/:tab?', queryClient: testQueryClient(me) });
}

describe('ServiceMapDetailPage', () => {
  it('shows the header, quota use and the namespace pods; live from the namespace group', async () => {
    const seen = mockFetch({
      'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'viewer' })),
      'GET /api/workspaces/1/servicemaps/7/': () => json(serviceMap(7, { in_sync: false })),
      'GET /api/clusters/1/pods/': () => json(page([podRow('shop-7', 'web-1')], fresh)),
    });
    render('/workspaces/1/servicemaps/7/pods', dev);
    const header = await screen.findByTestId('servicemap-header');
    expect(header).toHaveAttribute('data-in-sync', 'false');
    expect(within(header).getByTestId('servicemap-namespace')).toHaveTextContent('shop-7');
    expect(within(header).getByTestId('quota-requests.cpu')).toHaveTextContent('300m');
    expect(within(header).getByTestId('quota-pods')).toHaveAttribute('data-percent', '15');
    expect(within(header).getByTestId('servicemap-pods')).toHaveTextContent('4/5');
    expect(screen.queryByTestId('edit-servicemap')).not.toBeInTheDocument(); // viewer: no servicemaps.manage
    const podRow1 = await screen.findByTestId('pod-row-shop-7/web-1');
    // every pod row carries the actions menu (permissions load when it opens, not per row)
    expect(within(podRow1).getByTestId('object-actions-button')).toBeInTheDocument();
    expect(seen.some((r) => r.url.includes('/objects/core/v1/pods/'))).toBe(false);
    const podsRequest = seen.find((r) => r.url.includes('/api/clusters/1/pods/'));
    expect(new URL(podsRequest!.url).searchParams.get('namespace')).toBe('shop-7');

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'cluster.1.ns.shop-7' }));
    expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' });
    act(() => ws.serverSend({ type: 'subscribed', group: 'cluster.1.ns.shop-7', seq: 1 }));
    act(() =>
      ws.serverSend({ type: 'objects.changed', group: 'cluster.1.ns.shop-7', seq: 2, data: { kind: 'Pod', upserts: [podRow('shop-7', 'web-2')] } }),
    );
    expect(await screen.findByTestId('pod-row-shop-7/web-2')).toBeInTheDocument();
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    act(() => ws.serverSend({ type: 'servicemap.updated', group: 'workspace.1', seq: 2, data: serviceMap(7, { in_sync: true }) }));
    await waitFor(() => expect(screen.getByTestId('servicemap-header')).toHaveAttribute('data-in-sync', 'true'));
  });

  it('edits the share (force after a 409) and deletes with type-to-confirm → deleting', async () => {
    let patches = 0;
    const seen = mockFetch({
      'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'manager', my_grants: ['servicemaps.manage'] })),
      'GET /api/workspaces/1/servicemaps/7/': () => json(serviceMap(7)),
      'GET /api/workspaces/1/allocations/': () => json([allocation(3)]),
      'GET /api/workspaces/1/servicemaps/': () => json(page([serviceMap(7)])),
      'GET /api/clusters/1/workloads/': () => json(page([], fresh)),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'PATCH /api/workspaces/1/servicemaps/7/': () => {
        patches += 1;
        return patches === 1
          ? json({ detail: 'shop-7 uses 300m of requests.cpu, above 100m.' }, { status: 409 })
          : json(serviceMap(7, { quota: { 'requests.cpu': '100m', pods: '20' } }));
      },
      'DELETE /api/workspaces/1/servicemaps/7/': () => json(serviceMap(7, { status: 'deleting' }), { status: 202 }),
    });
    render('/workspaces/1/servicemaps/7', dev);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('edit-servicemap'));
    const dialog = screen.getByTestId('edit-servicemap-dialog');
    const cpu = within(dialog).getByTestId('quota-input-requests.cpu');
    await user.clear(cpu);
    await user.type(cpu, '100m');
    await user.click(screen.getByTestId('edit-servicemap-submit'));
    expect(await within(dialog).findByTestId('servicemap-error')).toHaveTextContent('above 100m');
    await user.click(within(dialog).getByTestId('servicemap-force'));
    await user.click(screen.getByTestId('edit-servicemap-submit'));
    await waitFor(() => expect(screen.queryByTestId('edit-servicemap-dialog')).not.toBeInTheDocument());
    const bodies = await Promise.all(seen.filter((r) => r.method === 'PATCH').map((r) => r.json()));
    expect(bodies[1]).toMatchObject({ force: true, quota: { 'requests.cpu': '100m', pods: '20' } });

    await user.click(screen.getByTestId('delete-servicemap'));
    await user.type(screen.getByTestId('type-confirm-input'), 'shop-7');
    await user.click(screen.getByTestId('type-confirm-submit'));
    // Back to the workspace's service map list (issue 22), where the row shows deleting.
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent(/^\/workspaces\/1\/servicemaps$/));
  });

  it('keeps a deleting service map on screen, and shows a stuck deletion with what holds it (socket)', async () => {
    const since = new Date(Date.now() - 10 * 60_000).toISOString();
    mockFetch({
      'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'viewer' })),
      'GET /api/workspaces/1/servicemaps/7/': () =>
        json(serviceMap(7, { status: 'deleting', message: 'Namespace shop-7 is Terminating: its content is being deleted.', deleting_since: since, deletion_stuck: false } as never)),
      'GET /api/clusters/1/workloads/': () => json(page([], fresh)),
    });
    render('/workspaces/1/servicemaps/7', dev);
    const banner = await screen.findByTestId('servicemap-deleting');
    expect(banner).toHaveAttribute('data-stuck', 'false');
    expect(banner).toHaveTextContent('Deletion asked');
    expect(screen.queryByTestId('servicemap-deletion-stuck')).not.toBeInTheDocument();

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    const stuck = 'Namespace shop-7 has been Terminating for 10 min and is stuck: example.com/hold in 1 resource instances.';
    act(() =>
      ws.serverSend({
        type: 'servicemap.updated',
        group: 'workspace.1',
        seq: 2,
        data: serviceMap(7, { status: 'deleting', message: stuck, deleting_since: since, deletion_stuck: true } as never),
      }),
    );
    await waitFor(() => expect(screen.getByTestId('servicemap-deleting')).toHaveAttribute('data-stuck', 'true'));
    expect(screen.getByTestId('servicemap-deletion-stuck')).toHaveTextContent('Deletion stuck');
    expect(screen.getByTestId('servicemap-message')).toHaveTextContent('example.com/hold');
  });
});
