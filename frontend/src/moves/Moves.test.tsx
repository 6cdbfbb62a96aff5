import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { getSocket } from '../lib/socket';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { allocation } from '../test/workspaces';
import { MoveAction } from './MoveAction';
import { MovePage } from './MovePage';
import type { Move, MovePlan } from './types';

const source = { id: 7, workspaceId: 1, name: 'shop', clusterId: 1, namespace: 'shop-7' };

function plan(overrides: Partial<MovePlan> = {}): MovePlan {
  return {
    source: { cluster: 1, namespace: 'shop-7' },
    target: { cluster: 2, namespace: 'shop-7' },
    releases: [{ name: 'web', package: 'nginx', version: '1.2.0', ok: true, problems: [] }],
    configs: [{ kind: 'Secret', name: 'db', keys: ['password', 'user'] }],
    autoscalers: [],
    quota: { needed: { 'requests.cpu': '1' }, available: { 'requests.cpu': '4' }, ok: true },
    pull_secrets: [],
    problems: [],
    ok: true,
    ...overrides,
  };
}

function move(overrides: Partial<Move> = {}): Move {
  return {
    id: 9,
    workspace: 1,
    source: 7,
    target: 8,
    source_cluster: 1,
    target_cluster: 2,
    source_cluster_name: 'seoul-prod',
    target_cluster_name: 'busan',
    source_namespace: 'shop-7',
    target_namespace: 'shop-7',
    status: 'running',
    steps: [
      { key: 'quota', state: 'done' },
      { key: 'secrets', state: 'running' },
      { key: 'releases', state: 'pending' },
    ],
    releases: [{ name: 'web', version_label: 'nginx 1.2.0', state: 'pending' }],
    message: '',
    message_code: '',
    message_params: {},
    created: new Date().toISOString(),
    finished: null,
    retired: null,
    ...overrides,
  };
}

describe('Move to cluster…', () => {
  it('plans a move to an allocated cluster, shows problems and quota, and starts it', async () => {
    let planned = 0;
    const seen = mockFetch({
      'GET /api/workspaces/1/allocations/': () => json([allocation(1), allocation(2, { cluster: { id: 2, name: 'busan', display_name: '', status: 'connected' } })]),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/catalog/moves/plan/': () => {
        planned += 1;
        return planned === 1
          ? json(plan({ ok: false, quota: { needed: { 'requests.cpu': '6' }, available: { 'requests.cpu': '4' }, ok: false }, problems: [{ code: 'move_quota_exceeded', message: 'busan has no room for requests.cpu.', params: {} }] }))
          : json(plan());
      },
      'POST /api/catalog/moves/': () => json(move(), { status: 202 }),
      'GET /api/catalog/moves/': () => json({ results: [], next: null }),
    });
    const user = userEvent.setup();
    renderAt(<MoveAction source={source} />, { queryClient: testQueryClient(adminUser) });
    await user.click(screen.getByTestId('move-servicemap'));
    const target = await screen.findByTestId('move-target');
    await waitFor(() => expect(within(target).getByText('busan')).toBeInTheDocument());
    expect(within(target).queryByText('seoul-prod')).not.toBeInTheDocument(); // where it is now
    await user.selectOptions(target, '2');
    expect(screen.getByTestId('move-confirm')).toBeDisabled();
    await user.click(screen.getByTestId('move-plan-button'));
    expect(await screen.findByTestId('move-problems')).toHaveTextContent('no room for requests.cpu');
    expect(screen.getByTestId('move-plan-quota')).toHaveAttribute('data-ok', 'false');
    expect(screen.getByTestId('move-confirm')).toBeDisabled();

    await user.click(screen.getByTestId('move-plan-button'));
    await waitFor(() => expect(screen.getByTestId('move-plan')).toHaveAttribute('data-ok', 'true'));
    expect(screen.getByTestId('move-plan-configs')).toHaveTextContent('Secret db: 2 keys');
    expect(screen.getByTestId('move-plan-release-web')).toHaveAttribute('data-ok', 'true');
    expect(screen.getByTestId('move-dialog')).not.toHaveTextContent('password'); // key names are not listed, values never
    await user.click(screen.getByTestId('move-confirm'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/moves/9'));
    expect(await seen.find((r) => r.url.endsWith('/api/catalog/moves/') && r.method === 'POST')?.json()).toEqual({ service_map: 7, target_cluster: 2 });
  }, 20_000);
});

describe('the latest move on the service map page', () => {
  it('links to the ledger of the latest move from or to the service map, live', async () => {
    const seen = mockFetch({ 'GET /api/catalog/moves/': () => json({ results: [move({ status: 'running' })], next: null }) });
    renderAt(<MoveAction source={source} />, { queryClient: testQueryClient(adminUser) });
    const link = await screen.findByTestId('latest-move');
    expect(link).toHaveAttribute('href', '/moves/9');
    expect(link).toHaveTextContent('Latest move: Running to busan');
    expect(new URL(seen[0]!.url).searchParams.get('service_map')).toBe('7');
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    act(() => ws.serverSend({ type: 'move.updated', group: 'workspace.1', seq: 2, data: move({ status: 'healthy' }) }));
    await waitFor(() => expect(screen.getByTestId('latest-move')).toHaveAttribute('data-status', 'healthy'));
  });
});

describe('MovePage', () => {
  it('shows the ledger live and retires the source once healthy, after typing its namespace', async () => {
    let current = move();
    const seen = mockFetch({
      'GET /api/catalog/moves/9/': () => json(current),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/catalog/moves/9/retire-source/': () => json(move({ status: 'retiring' }), { status: 202 }),
    });
    const user = userEvent.setup();
    renderAt(<MovePage />, { route: '/moves/9', path: '/moves/:id', queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('move-step-secrets')).toHaveAttribute('data-state', 'running');
    expect(screen.getByTestId('move-step-quota')).toHaveTextContent('Quota share on the target');
    expect(screen.queryByTestId('retire-source')).not.toBeInTheDocument(); // not healthy yet

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    // the acknowledgement makes the page look again (a short move may have finished meanwhile)
    await waitFor(() => expect(seen.filter((r) => r.url.endsWith('/api/catalog/moves/9/'))).toHaveLength(2));
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 0));
    });
    const healthy = move({
      status: 'healthy',
      steps: [
        { key: 'quota', state: 'done' },
        { key: 'secrets', state: 'done' },
        { key: 'releases', state: 'done' },
      ],
      releases: [{ name: 'web', version_label: 'nginx 1.2.0', state: 'healthy', target_release: 31 }],
    });
    current = healthy;
    act(() => ws.serverSend({ type: 'move.updated', group: 'workspace.1', seq: 2, data: healthy }));
    await waitFor(() => expect(screen.getByTestId('move-header')).toHaveAttribute('data-status', 'healthy'));
    expect(screen.getByTestId('move-release-web')).toHaveAttribute('data-state', 'healthy');
    expect(within(screen.getByTestId('move-release-web')).getByRole('link')).toHaveAttribute('href', '/releases/31');

    await user.click(screen.getByTestId('retire-source'));
    expect(screen.getByTestId('type-confirm-submit')).toBeDisabled();
    await user.type(screen.getByTestId('type-confirm-input'), 'shop-7');
    await user.click(screen.getByTestId('type-confirm-submit'));
    await waitFor(() => expect(screen.getByTestId('move-header')).toHaveAttribute('data-status', 'retiring'));
    expect(await seen.find((r) => r.url.endsWith('/retire-source/'))?.json()).toEqual({ confirm: 'shop-7' });
  });

  it('looks again once its subscription is live: a move that finished before is shown healthy', async () => {
    let current = move();
    const seen = mockFetch({ 'GET /api/catalog/moves/9/': () => json(current) });
    renderAt(<MovePage />, { route: '/moves/9', path: '/moves/:id', queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('move-header')).toHaveAttribute('data-status', 'running');
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    // the move became healthy while the subscription was on its way: no event will tell
    current = move({ status: 'healthy', steps: [{ key: 'releases', state: 'done' }] });
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 4 }));
    await waitFor(() => expect(screen.getByTestId('move-header')).toHaveAttribute('data-status', 'healthy'));
    expect(seen.filter((r) => r.url.endsWith('/api/catalog/moves/9/'))).toHaveLength(2);
  });
});
