import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { page } from '../test/clusters';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { tableViewsHandler } from '../components/table/testing';
import { workspace } from '../test/workspaces';
import { BuildsPage } from './BuildsList';
import { definition, runRow } from './testData';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

describe('BuildsPage', () => {
  it("shows Cocktail's columns, keeps the status live, and runs a build", async () => {
    const rows = [
      definition(1),
      definition(2, { name: 'shop-web', image: '127.0.0.1:55000/team-1/shop-web', last_run: runRow(8, { definition: { id: 2, name: 'shop-web' }, status: 'failed', failed_step: 4, steps_done: 3, steps_total: 6, image_size: null }) }),
      definition(3, { name: 'batch', last_run: null, permissions: { change: false, run: false } }),
    ];
    mockFetch({
      'GET /api/workspaces/': () => json(page([workspace(1, { my_grants: ['builds.run'] })])),
      'GET /api/builds/definitions/': () => json(page(rows)),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/builds/definitions/1/run/': () => json(runRow(20, { status: 'queued', steps_done: 0, image_digest: '', image_size: null }), { status: 202 }),
      ...tableViewsHandler(),
    });
    renderAt(<BuildsPage />, { route: '/builds', path: '/builds', queryClient: testQueryClient(dev) });
    const api = await screen.findByTestId('build-row-shop-api');
    expect(within(api).getByTestId('build-image')).toHaveTextContent('127.0.0.1:55000/team-1/shop-api');
    expect(within(api).getByTestId('build-steps')).toHaveTextContent('3/3');
    expect(within(api).getByTestId('build-status')).toHaveTextContent('DONE');
    expect(within(api).getByTestId('build-size')).toHaveTextContent('5.3 MiB');
    const web = screen.getByTestId('build-row-shop-web');
    expect(within(web).getByTestId('build-status')).toHaveTextContent('ERROR 4/6');
    expect(within(web).getByTestId('build-steps')).toHaveTextContent('3/6');
    expect(within(web).getByTestId('build-size')).toHaveTextContent('—');
    const batch = screen.getByTestId('build-row-batch');
    expect(within(batch).getByTestId('build-status')).toHaveTextContent('Never built');
    expect(within(batch).queryByTestId('run-batch')).not.toBeInTheDocument(); // no builds.run there
    expect(screen.getByTestId('new-build')).toHaveAttribute('href', '/builds/new');

    // a run of shop-api moves on elsewhere: the row follows
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    act(() => ws.serverSend({ type: 'buildrun.updated', group: 'workspace.1', seq: 2, data: runRow(9, { status: 'running', steps_done: 1, steps_total: 3, image_size: null }) }));
    await waitFor(() => expect(within(api).getByTestId('build-status')).toHaveTextContent('RUNNING'));
    expect(within(api).getByTestId('build-steps')).toHaveTextContent('1/3');
    // news of an older run does not replace the newest
    act(() => ws.serverSend({ type: 'buildrun.updated', group: 'workspace.1', seq: 3, data: runRow(7, { status: 'cancelled' }) }));
    act(() => ws.serverSend({ type: 'buildrun.updated', group: 'workspace.1', seq: 4, data: runRow(9, { status: 'succeeded', steps_done: 3, steps_total: 3 }) }));
    await waitFor(() => expect(within(api).getByTestId('build-status')).toHaveTextContent('DONE'));
    expect(within(api).getByTestId('build-last-run')).toHaveAttribute('href', '/builds/runs/9');

    const user = userEvent.setup();
    await user.click(within(api).getByTestId('run-shop-api'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/builds/runs/20'));
  });

  it('says what to do next when there are no builds', async () => {
    mockFetch({
      'GET /api/workspaces/': () => json(page([workspace(1, { my_grants: [] })])),
      'GET /api/builds/definitions/': () => json(page([])),
      ...tableViewsHandler(),
    });
    renderAt(<BuildsPage />, { route: '/builds', path: '/builds', queryClient: testQueryClient(dev) });
    const empty = await screen.findByTestId('builds-empty');
    expect(empty).toHaveTextContent('ask a workspace manager');
    expect(screen.queryByTestId('new-build')).not.toBeInTheDocument();
  });

  it('searches by name on the server and says when nothing matches', async () => {
    const seen = mockFetch({
      'GET /api/workspaces/': () => json(page([workspace(1, { my_grants: ['builds.run'] })])),
      'GET /api/builds/definitions/': () => json(page([])),
      ...tableViewsHandler(),
    });
    renderAt(<BuildsPage />, { route: '/builds?q=zzz', path: '/builds', queryClient: testQueryClient(dev) });
    expect(await screen.findByTestId('builds-no-match')).toHaveTextContent('No build definition matches “zzz”.');
    expect(screen.queryByTestId('builds-empty')).not.toBeInTheDocument();
    const asked = seen.find((r) => new URL(r.url).pathname === '/api/builds/definitions/');
    expect(new URL(asked?.url ?? 'http://x/').searchParams.get('q')).toBe('zzz');
  });
});
