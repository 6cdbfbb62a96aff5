import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import i18n from 'i18next';
import { afterEach, describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { rollout, target } from '../test/catalog';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { RolloutPage } from './RolloutPage';
import type { Rollout } from './types';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

describe('RolloutPage', () => {
  it('renders the ledger, follows rollout.updated live and cancels', async () => {
    const targets = [
      target(1, 'east', { wave: 0, state: 'healthy', release: 4, revision: 1 }),
      target(2, 'west', { state: 'failed', reason: 'ImagePullBackOff' }),
      target(3, 'north', { state: 'pending', reason: 'cluster unreachable' }),
    ];
    const seen = mockFetch({
      'GET /api/catalog/rollouts/9/': () => json(rollout(9, targets)),
      'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'developer', my_grants: ['workloads.deploy'] })),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/catalog/rollouts/9/cancel/': () => json(rollout(9, targets, { status: 'cancelled' })),
      'DELETE /api/catalog/rollouts/9/': () => new Response(null, { status: 204 }),
    });
    renderAt(<RolloutPage />, { route: '/rollouts/9', path: '/rollouts/:id', queryClient: testQueryClient(dev) });
    const east = await screen.findByTestId('target-row-east-shop-1');
    expect(east).toHaveAttribute('data-state', 'healthy');
    expect(east).toHaveTextContent('canary');
    expect(within(east).getByTestId('target-release-link')).toHaveAttribute('href', '/releases/4');
    expect(screen.getByTestId('target-row-west-shop-2')).toHaveAttribute('data-state', 'failed');
    expect(within(screen.getByTestId('target-row-west-shop-2')).getByTestId('target-reason')).toHaveTextContent('ImagePullBackOff');
    expect(screen.getByTestId('target-row-north-shop-3')).toHaveTextContent('cluster unreachable');

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    act(() =>
      ws.serverSend({
        type: 'rollout.updated',
        group: 'workspace.1',
        seq: 2,
        data: rollout(9, [targets[0]!, targets[1]!, target(3, 'north', { state: 'progressing' })]),
      }),
    );
    await waitFor(() => expect(screen.getByTestId('target-row-north-shop-3')).toHaveAttribute('data-state', 'progressing'));

    const user = userEvent.setup();
    await user.click(await screen.findByTestId('cancel-rollout'));
    expect(screen.getByTestId('cancel-rollout-dialog')).toHaveTextContent('No new target is started');
    await user.click(screen.getByTestId('cancel-rollout-submit'));
    await waitFor(() => expect(screen.getByTestId('rollout-header')).toHaveAttribute('data-status', 'cancelled'));
    expect(seen.some((r) => r.method === 'POST' && r.url.endsWith('/cancel/'))).toBe(true);
    expect(screen.queryByTestId('cancel-rollout')).not.toBeInTheDocument();
    // Finished: its record can be deleted (the releases stay).
    await user.click(screen.getByTestId('delete-rollout'));
    await user.click(screen.getByTestId('delete-rollout-submit'));
    await waitFor(() => expect(seen.some((r) => r.method === 'DELETE' && r.url.endsWith('/api/catalog/rollouts/9/'))).toBe(true));
  });

  describe('in Korean', () => {
    afterEach(async () => {
      await i18n.changeLanguage('en');
    });

    it('shows the rollout message and a refused cancel by their codes', async () => {
      await i18n.changeLanguage('ko');
      const targets = [target(1, 'east', { state: 'failed' })];
      const stopped = {
        status: 'running',
        message: 'Stopped: 1 target(s) failed (shop-1).',
        message_code: 'rollout_stopped',
        message_params: { count: 1, namespaces: 'shop-1' },
      } as Partial<Rollout>;
      mockFetch({
        'GET /api/catalog/rollouts/9/': () => json(rollout(9, targets, stopped)),
        'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'developer', my_grants: ['workloads.deploy'] })),
        'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
        'POST /api/catalog/rollouts/9/cancel/': () =>
          json(
            { detail: 'Your role in workspace team-a does not grant workloads.deploy; ask a manager of the workspace.', code: 'grant_missing', params: { workspace: 'team-a', grant: 'workloads.deploy' } },
            { status: 403 },
          ),
      });
      renderAt(<RolloutPage />, { route: '/rollouts/9', path: '/rollouts/:id', queryClient: testQueryClient(dev) });
      expect(await screen.findByTestId('rollout-message')).toHaveTextContent('중지됨: 대상 1개가 실패했습니다(shop-1).');
      const user = userEvent.setup();
      await user.click(await screen.findByTestId('cancel-rollout'));
      await user.click(screen.getByTestId('cancel-rollout-submit'));
      expect(await screen.findByTestId('cancel-rollout-dialog')).toHaveTextContent('워크스페이스 team-a에서 내 역할에는 workloads.deploy 권한이 없습니다.');
    });
  });
});
