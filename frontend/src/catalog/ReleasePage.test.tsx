import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { pkgDetail, release, releaseDetail, revision, version } from '../test/catalog';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { intent } from '../test/intents';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ReleasePage } from './ReleasePage';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

function render(grants: string[]) {
  const revisions = [
    revision(2, { status: 'progressing', progress: { 'Deployment/shop-web': { state: 'progressing', ready: 0, desired: 2, message: '' } } }),
    revision(1, { status: 'deployed' }),
  ];
  const seen = mockFetch({
    'GET /api/catalog/releases/4/': () => json(releaseDetail(4, revisions, { status: 'deploying', deployed_revision: 1 })),
    'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'custom', my_grants: grants })),
    'GET /api/catalog/releases/4/diff/': () => json({ diff: '--- revision 1\n+++ revision 2\n@@ -1 +1 @@\n-  replicas: 1\n+  replicas: 2\n' }),
    'GET /api/catalog/releases/4/drift/': () =>
      intent({ checked: true, objects: ['Deployment/shop-web'], missing: [], diff: '-  replicas: 2\n+  replicas: 5\n', message: '' }, { kind: 'release.drift' }),
    'GET /api/catalog/packages/5/': () => json(pkgDetail(5)),
    'GET /api/catalog/versions/11/': () => json(version(11)),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    'POST /api/catalog/releases/4/rollback/': () => json({ detail: 'revision 2 is still deploying' }, { status: 409 }),
    'POST /api/catalog/releases/4/upgrade/': () => json(release(4, { revision: 3, status: 'pending' }), { status: 202 }),
  });
  renderAt(<ReleasePage />, { route: '/releases/4', path: '/releases/:id', queryClient: testQueryClient(dev) });
  return seen;
}

describe('ReleasePage', () => {
  it('shows the current revision’s progress live, the history and the diff between revisions', async () => {
    render(['workloads.deploy', 'workloads.rollback', 'objects.delete']);
    const header = await screen.findByTestId('release-header');
    expect(header).toHaveAttribute('data-status', 'deploying');
    expect(within(header).getByTestId('release-revision')).toHaveTextContent('2');
    expect(within(header).getByTestId('release-deployed-revision')).toHaveTextContent('1');
    expect(screen.getByTestId('progress-Deployment/shop-web')).toHaveTextContent('0/2');
    const diff = await screen.findByTestId('revision-diff');
    expect(diff.querySelector('.diff-add')?.textContent).toBe('+  replicas: 2\n');
    expect(diff.querySelector('.diff-del')?.textContent).toBe('-  replicas: 1\n');

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    act(() =>
      ws.serverSend({
        type: 'revision.updated',
        group: 'workspace.1',
        seq: 2,
        data: { release: 4, number: 2, status: 'progressing', progress: { 'Deployment/shop-web': { state: 'progressing', ready: 1, desired: 2, message: '1 of 2 ready' } }, message: '' },
      }),
    );
    await waitFor(() => expect(screen.getByTestId('progress-Deployment/shop-web')).toHaveTextContent('1/2'));
    expect(screen.getByTestId('progress-Deployment/shop-web')).toHaveTextContent('1 of 2 ready');

    const user = userEvent.setup();
    await user.click(screen.getByTestId('check-drift'));
    const drift = await screen.findByTestId('drift-result');
    expect(drift).toHaveAttribute('data-drifted', 'true');
    expect(within(drift).getByTestId('drift-diff')).toHaveTextContent('replicas: 5');
  });

  it('rolls back after a confirm (409 shown), upgrades with values; hides what my grants do not allow', async () => {
    const seen = render(['workloads.deploy', 'workloads.rollback']);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('rollback-1'));
    expect(screen.queryByTestId('rollback-2')).not.toBeInTheDocument(); // the current revision
    await user.click(screen.getByTestId('confirm-rollback'));
    expect(await within(screen.getByTestId('confirm-dialog')).findByRole('alert')).toHaveTextContent('revision 2 is still deploying');
    const rollback = seen.find((r) => r.url.endsWith('/rollback/'))!;
    expect(await rollback.json()).toEqual({ revision: 1 });
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByTestId('delete-release')).not.toBeInTheDocument(); // no objects.delete

    await user.click(screen.getByTestId('upgrade-release'));
    const dialog = screen.getByTestId('upgrade-dialog');
    expect(await within(dialog).findByTestId('value-replicas')).toHaveValue(2); // the release's values
    await user.clear(within(dialog).getByTestId('value-image.tag'));
    await user.type(within(dialog).getByTestId('value-image.tag'), '1.28');
    await user.click(screen.getByTestId('upgrade-submit'));
    await waitFor(() => expect(screen.queryByTestId('upgrade-dialog')).not.toBeInTheDocument());
    const upgrade = seen.find((r) => r.url.endsWith('/upgrade/'))!;
    expect(await upgrade.json()).toEqual({ values: { replicas: 2, image: { tag: '1.28' } } });
  });

  it('shows no write actions to a viewer', async () => {
    render([]);
    await screen.findByTestId('release-header');
    expect(screen.queryByTestId('upgrade-release')).not.toBeInTheDocument();
    expect(screen.queryByTestId('rollback-1')).not.toBeInTheDocument();
    expect(screen.queryByTestId('delete-release')).not.toBeInTheDocument();
  });
});
