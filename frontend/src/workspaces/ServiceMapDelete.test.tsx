import { act, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { page } from '../test/clusters';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { serviceMap, workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ServiceMapDetailPage } from './ServiceMapDetailPage';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

describe('A service map whose namespace goes while its page is open (issue 22)', () => {
  it('leaves for the workspace list instead of showing "page not found"', async () => {
    let gone = false;
    mockFetch({
      'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'viewer' })),
      'GET /api/workspaces/1/servicemaps/7/': () =>
        gone ? json({ detail: 'Not found.' }, { status: 404 }) : json(serviceMap(7, { status: 'deleting' })),
      'GET /api/clusters/1/workloads/': () => json(page([], { freshness: { state: 'synced', last_event: new Date().toISOString() } })),
    });
    renderAt(<ServiceMapDetailPage />, { route: '/workspaces/1/servicemaps/7', path: '/workspaces/:id/servicemaps/:sid/:tab?', queryClient: testQueryClient(dev) });
    expect(await screen.findByTestId('servicemap-deleting')).toBeInTheDocument();
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    gone = true;
    act(() => ws.serverSend({ type: 'servicemap.deleted', group: 'workspace.1', seq: 2, data: { id: 7 } }));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent(/^\/workspaces\/1\/servicemaps$/));
    expect(screen.queryByTestId('servicemap-gone')).not.toBeInTheDocument();
  });
});
