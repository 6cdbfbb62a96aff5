import { act, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { release, releaseDetail, revision } from '../test/catalog';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ReleasePage } from './ReleasePage';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

function render(deleteAnswer: () => Response) {
  mockFetch({
    'GET /api/catalog/releases/4/': () => json(releaseDetail(4, [revision(1, { status: 'deployed' })], { status: 'deployed', deployed_revision: 1 })),
    'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'custom', my_grants: ['objects.delete'] })),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    'DELETE /api/catalog/releases/4/': deleteAnswer,
  });
  renderAt(<ReleasePage />, { route: '/releases/4', path: '/releases/:id', queryClient: testQueryClient(dev) });
}

async function confirmDelete() {
  const user = userEvent.setup();
  await user.click(await screen.findByTestId('delete-release'));
  await user.type(screen.getByTestId('type-confirm-input'), release(4).name);
  await user.click(screen.getByTestId('type-confirm-submit'));
}

describe('Deleting a release (issue 22)', () => {
  it('shows deleting from the answer, then follows release.deleted to the list', async () => {
    render(() => json(release(4, { status: 'deleting' }), { status: 202 }));
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await confirmDelete();
    await waitFor(() => expect(screen.getByTestId('release-header')).toHaveAttribute('data-status', 'deleting'));
    expect(screen.queryByTestId('delete-release')).not.toBeInTheDocument();
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    act(() => ws.serverSend({ type: 'release.deleted', group: 'workspace.1', seq: 2, data: { id: 4 } }));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent(/^\/releases$/));
  });

  it('reads a second delete that finds the release gone as already deleted, not as an error', async () => {
    render(() => json({ detail: 'No Release matches the given query.' }, { status: 404 }));
    await confirmDelete();
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent(/^\/releases$/));
    expect(screen.queryByText('No Release matches the given query.')).not.toBeInTheDocument();
  });
});
