import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { workspace } from '../test/workspaces';
import { RunPage } from './RunPage';
import { definition, runDetail, step } from './testData';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

/** The stored log of the build step, as the server holds it; reads answer from `offset`. */
const STORED = '#1 load\n#2 copy\n#3 step\n#4 push\n';

function setup() {
  const running = runDetail(9, [step('clone', 1, { log_size: 12 }), step('build', 2, { status: 'running', finished: null, exit_code: null, log_size: 8 })], {
    status: 'running',
    steps_done: 1,
    steps_total: 2,
    image_digest: '',
    image_size: null,
    finished: null,
  });
  const seen = mockFetch({
    'GET /api/builds/runs/9/': () => json(running),
    'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'developer', my_grants: ['builds.run'] })),
    'GET /api/builds/runs/9/steps/build/log/': (request) => {
      const offset = Number(new URL(request.url).searchParams.get('offset'));
      // the first read sees only the first line; later reads see what is stored from `offset`
      const upto = offset === 0 ? 8 : STORED.length;
      return json({ run: 9, step: 'build', offset, text: STORED.slice(offset, upto), size: upto, truncated: false, running: true });
    },
  });
  renderAt(<RunPage />, { route: '/builds/runs/9', path: '/builds/runs/:id', queryClient: testQueryClient(dev) });
  return seen;
}

const logReads = (seen: Request[]) =>
  seen.filter((r) => new URL(r.url).pathname.endsWith('/steps/build/log/')).map((r) => new URL(r.url).searchParams.get('offset'));

describe('RunPage', () => {
  it("follows the running step's log by byte offset: duplicates ignored, a gap read from what it holds", async () => {
    const seen = setup();
    const header = await screen.findByTestId('run-header');
    expect(within(header).getByTestId('run-status')).toHaveTextContent('RUNNING');
    // the running step's log opens by itself and reads from 0
    const lines = await screen.findByTestId('log-lines-build');
    expect(lines).toHaveTextContent('#1 load');
    expect(logReads(seen)).toEqual(['0']);

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'buildrun.9' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'buildrun.9', seq: 1 }));
    act(() => ws.serverSend({ type: 'buildrun.log', group: 'buildrun.9', seq: 2, data: { run: 9, step: 'build', offset: 8, text: '#2 copy\n' } }));
    expect(screen.getByTestId('log-lines-build').textContent).toBe('#1 load\n#2 copy');
    // the same bytes again (a resent event) change nothing; another step's lines are not ours
    act(() => ws.serverSend({ type: 'buildrun.log', group: 'buildrun.9', seq: 3, data: { run: 9, step: 'build', offset: 8, text: '#2 copy\n' } }));
    act(() => ws.serverSend({ type: 'buildrun.log', group: 'buildrun.9', seq: 4, data: { run: 9, step: 'clone', offset: 12, text: 'clone line\n' } }));
    expect(screen.getByTestId('log-lines-build').textContent).toBe('#1 load\n#2 copy');
    expect(screen.getByTestId('step-log-build')).toHaveAttribute('data-end', '16');
    // bytes 16-24 never came: the event at 24 makes the panel read from 16, then applies it (already held)
    act(() => ws.serverSend({ type: 'buildrun.log', group: 'buildrun.9', seq: 5, data: { run: 9, step: 'build', offset: 24, text: '#4 push\n' } }));
    await waitFor(() => expect(screen.getByTestId('log-lines-build').textContent).toBe('#1 load\n#2 copy\n#3 step\n#4 push'));
    expect(logReads(seen)).toEqual(['0', '16']);
    expect(screen.getByTestId('step-log-build')).toHaveAttribute('data-end', String(STORED.length));

    // the step fails: the status says where, and its log stays on the page
    act(() =>
      ws.serverSend({
        type: 'buildrun.updated',
        group: 'buildrun.9',
        seq: 6,
        data: runDetail(9, [step('clone', 1, { log_size: 12 }), step('build', 2, { status: 'failed', exit_code: 1, message: 'failed to solve', log_size: STORED.length })], {
          status: 'failed',
          steps_done: 1,
          steps_total: 2,
          failed_step: 2,
          image_digest: '',
          image_size: null,
        }),
      }),
    );
    await waitFor(() => expect(within(header).getByTestId('run-status')).toHaveTextContent('ERROR 2/2'));
    expect(screen.getByTestId('step-build')).toHaveAttribute('data-status', 'failed');
    expect(screen.getByTestId('step-build')).toHaveTextContent('exit code 1');
    expect(screen.getByTestId('log-lines-build').textContent).toBe('#1 load\n#2 copy\n#3 step\n#4 push');
    expect(screen.getByTestId('run-rebuild')).toBeInTheDocument();
    expect(screen.queryByTestId('run-cancel')).not.toBeInTheDocument();
  });

  it('shows the image, its short digest with a copy button, size, commit and the deployed revision', async () => {
    mockFetch({
      'GET /api/builds/runs/9/': () =>
        json(runDetail(9, [step('clone', 1), step('build', 2, { log_size: 4 })], { deployed_release: { id: 4, name: 'shop' }, deployed_revision: 3 })),
      'GET /api/workspaces/1/': () => json(workspace(1, { my_grants: [] })),
      'GET /api/builds/definitions/1/': () => json(definition(1)),
      'GET /api/builds/runs/9/steps/build/log/': () => json({ run: 9, step: 'build', offset: 0, text: 'ok\n', size: 3, truncated: false, running: false }),
    });
    renderAt(<RunPage />, { route: '/builds/runs/9', path: '/builds/runs/:id', queryClient: testQueryClient(dev) });
    const header = await screen.findByTestId('run-header');
    expect(within(header).getByTestId('run-status')).toHaveTextContent('DONE');
    expect(within(header).getByTestId('run-image')).toHaveTextContent('127.0.0.1:55000/team-1/shop-api:1.0.B000009');
    expect(within(header).getByTestId('run-digest')).toHaveTextContent('sha256:aabbccddeeff');
    expect(within(header).getByTestId('copy-digest')).toBeInTheDocument();
    expect(within(header).getByTestId('run-size')).toHaveTextContent('5.3 MiB');
    expect(within(header).getByTestId('run-commit')).toHaveTextContent('main @ 0123456');
    expect(within(header).getByRole('link', { name: 'shop' })).toHaveAttribute('href', '/releases/4');
    expect(within(header).getByTestId('run-deployed')).toHaveTextContent('revision 3');
    expect(await within(header).findByTestId('run-image-link')).toHaveAttribute('href', '/registries/1/repositories/team-1/shop-api');
    // a finished run shows its last step's log; without builds.run there is no Rebuild
    expect(await screen.findByTestId('log-lines-build')).toHaveTextContent('ok');
    expect(screen.queryByTestId('run-rebuild')).not.toBeInTheDocument();
  });

  it('reads the kept log again from 0 when the server has cut it (offsets start lower)', async () => {
    let kept = 'old 1\nold 2\n';
    const seen = mockFetch({
      'GET /api/builds/runs/9/': () =>
        json(runDetail(9, [step('clone', 1), step('build', 2, { status: 'running', finished: null, log_size: 12 })], { status: 'running', steps_done: 1, steps_total: 2 })),
      'GET /api/workspaces/1/': () => json(workspace(1)),
      'GET /api/builds/definitions/1/': () => json(definition(1)),
      'GET /api/builds/runs/9/steps/build/log/': (request) => {
        const asked = Number(new URL(request.url).searchParams.get('offset'));
        const offset = Math.min(asked, kept.length); // the server clamps the offset to what it keeps
        return json({ run: 9, step: 'build', offset, text: kept.slice(offset), size: kept.length, truncated: false, running: true });
      },
    });
    renderAt(<RunPage />, { route: '/builds/runs/9', path: '/builds/runs/:id', queryClient: testQueryClient(dev) });
    expect(await screen.findByTestId('log-lines-build')).toHaveTextContent('old 1 old 2');
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'buildrun.9' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'buildrun.9', seq: 1 }));
    // the server cut its log to the newest bytes: the event's offset points into what we hold, with other bytes
    kept = 'old 2\nnew 3\n';
    act(() => ws.serverSend({ type: 'buildrun.log', group: 'buildrun.9', seq: 2, data: { run: 9, step: 'build', offset: 6, text: 'new 3\n' } }));
    await waitFor(() => expect(screen.getByTestId('log-lines-build').textContent).toBe('old 2\nnew 3'));
    expect(logReads(seen)).toEqual(['0', '0']);
    expect(screen.getByTestId('log-dropped-build')).toBeInTheDocument();
  });

  it('cancels a running build after a confirmation', async () => {
    const running = runDetail(9, [step('clone', 1, { status: 'running', finished: null, log_size: 0 }), step('build', 2, { status: 'pending', started: null, finished: null })], {
      status: 'running',
      steps_done: 0,
      steps_total: 2,
      image_digest: '',
      image_size: null,
      finished: null,
    });
    const seen = mockFetch({
      'GET /api/builds/runs/9/': () => json(running),
      'GET /api/workspaces/1/': () => json(workspace(1, { my_grants: ['builds.run'] })),
      'GET /api/builds/runs/9/steps/clone/log/': () => json({ run: 9, step: 'clone', offset: 0, text: '', size: 0, truncated: false, running: true }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/builds/runs/9/cancel/': () => json({ ...running, status: 'cancelling' }, { status: 202 }),
    });
    const user = userEvent.setup();
    renderAt(<RunPage />, { route: '/builds/runs/9', path: '/builds/runs/:id', queryClient: testQueryClient(dev) });
    await user.click(await screen.findByTestId('run-cancel'));
    expect(screen.getByTestId('confirm-dialog')).toHaveTextContent('Stop shop-api #9?');
    await user.click(screen.getByTestId('run-cancel-confirm'));
    await waitFor(() => expect(screen.getByTestId('run-header')).toHaveAttribute('data-status', 'cancelling'));
    expect(within(screen.getByTestId('run-header')).getByTestId('run-status')).toHaveTextContent('CANCELLING');
    expect(screen.queryByTestId('confirm-dialog')).not.toBeInTheDocument();
    expect(screen.queryByTestId('run-cancel')).not.toBeInTheDocument();
    expect(seen.filter((r) => r.method === 'POST').map((r) => new URL(r.url).pathname)).toEqual(['/api/builds/runs/9/cancel/']);
  });
});
