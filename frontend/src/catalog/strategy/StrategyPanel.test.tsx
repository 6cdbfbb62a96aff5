import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../../api/types';
import { getSocket } from '../../lib/socket';
import { release } from '../../test/catalog';
import { FakeWebSocket } from '../../test/FakeWebSocket';
import { workspace } from '../../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../../test/utils';
import type { Release } from '../types';
import { StrategyPanel } from './StrategyPanel';
import { StrategySelector, strategyBody } from './StrategySelector';
import { useState } from 'react';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };
const pod = (name: string, color: string) => ({
  name, deployment: `web-${color}`, phase: 'Running', status: 'Running', ready: '1/1', restarts: 0, node: 'n1',
  images: [color === 'blue' ? 'nginx:1.26' : 'nginx:1.27'], pod_template_hash: 'h', color, created: '2026-11-21T10:00:00Z',
});
const awaiting = release(4, {
  strategy: { type: 'bluegreen', max_surge: '25%', max_unavailable: '25%', canary_replicas: 1 },
  strategy_state: { type: 'bluegreen', phase: 'awaiting_promotion', active: 'blue', preview: 'green', from_revision: 1, keep: ['Deployment/web-blue'] },
});

function render(canAct: boolean, row: Release = awaiting) {
  let podCalls = 0;
  const seen = mockFetch({
    'GET /api/workspaces/1/': () => json(workspace(1)),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    'GET /api/catalog/releases/4/pods/': () => {
      podCalls += 1;
      return json({ old: [pod('web-blue-1', 'blue')], new: podCalls > 1 ? [pod('web-green-1', 'green'), pod('web-green-2', 'green')] : [pod('web-green-1', 'green')], canary: [], strategy_state: row.strategy_state });
    },
    'POST /api/catalog/releases/4/promote/': () => json({ ...row, strategy_state: { ...(row.strategy_state as object), phase: 'awaiting_confirmation' } }, { status: 202 }),
  });
  renderAt(<StrategyPanel release={row} canAct={canAct} />, { queryClient: testQueryClient(dev) });
  return seen;
}

describe('StrategyPanel', () => {
  it('shows the phase and colors, old vs new pods refetched on release events, and promotes after a confirmation', async () => {
    const seen = render(true);
    const panel = screen.getByTestId('strategy-panel');
    expect(panel).toHaveAttribute('data-phase', 'awaiting_promotion');
    expect(within(panel).getByTestId('strategy-active')).toHaveAttribute('data-color', 'blue');
    expect(within(panel).getByTestId('strategy-preview')).toHaveAttribute('data-color', 'green');
    expect(within(panel).queryByTestId('confirm-release')).not.toBeInTheDocument();
    expect(await screen.findByTestId('release-pod-web-blue-1')).toBeInTheDocument();
    expect(screen.getByTestId('pods-new')).toHaveAttribute('data-count', '1');

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    act(() => ws.serverSend({ type: 'revision.updated', group: 'workspace.1', seq: 2, data: { release: 4, number: 2, status: 'deployed', progress: {}, message: '' } }));
    await waitFor(() => expect(screen.getByTestId('pods-new')).toHaveAttribute('data-count', '2'));

    const user = userEvent.setup();
    await user.click(screen.getByTestId('promote-release'));
    expect(screen.getByTestId('confirm-dialog')).toHaveTextContent('from blue to green');
    await user.click(screen.getByTestId('confirm-promote'));
    await waitFor(() => expect(screen.queryByTestId('confirm-dialog')).not.toBeInTheDocument());
    expect(seen.some((r) => r.method === 'POST' && r.url.endsWith('/releases/4/promote/'))).toBe(true);
  });

  it('hides promote, confirm and abort without workloads.rollback, and when stable', async () => {
    render(false);
    await screen.findByTestId('release-pod-web-blue-1');
    expect(screen.queryByTestId('promote-release')).not.toBeInTheDocument();
    expect(screen.queryByTestId('abort-release')).not.toBeInTheDocument();
  });

  it('offers confirm and abort after promotion', async () => {
    render(true, { ...awaiting, strategy_state: { type: 'bluegreen', phase: 'awaiting_confirmation', active: 'green', previous: 'blue', from_revision: 1, keep: [] } });
    expect(screen.getByTestId('confirm-release')).toBeInTheDocument();
    expect(screen.getByTestId('abort-release')).toBeInTheDocument();
    expect(screen.queryByTestId('promote-release')).not.toBeInTheDocument();
    await screen.findByTestId('release-pods');
  });
});

describe('StrategySelector', () => {
  function Harness({ onValue }: { onValue: (v: unknown) => void }) {
    const [value, setValue] = useState(strategyBody({ type: 'rolling' }));
    return (
      <StrategySelector
        value={value}
        errors={{ 'strategy.canary_replicas': ['Ensure this value is less than or equal to 50.'] }}
        onChange={(v) => {
          setValue(v);
          onValue(strategyBody(v));
        }}
      />
    );
  }

  it('shows the fields of each type and its errors; a whole number surge goes out as a number', async () => {
    let last: unknown = null;
    renderAt(<Harness onValue={(v) => (last = v)} />);
    const user = userEvent.setup();
    await user.clear(screen.getByTestId('strategy-max-surge'));
    await user.type(screen.getByTestId('strategy-max-surge'), '2');
    expect(last).toEqual({ type: 'rolling', max_surge: 2, max_unavailable: '25%' });
    await user.selectOptions(screen.getByTestId('strategy-type'), 'canary');
    expect(screen.queryByTestId('strategy-max-surge')).not.toBeInTheDocument();
    expect(screen.getByTestId('strategy-canary-replicas')).toHaveAttribute('aria-invalid', 'true');
    expect(last).toEqual({ type: 'canary', canary_replicas: 1 });
  });
});
