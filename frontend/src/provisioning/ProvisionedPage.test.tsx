import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ClusterProvisioningTab } from './ClusterProvisioningTab';
import { ProvisionedPage } from './ProvisionedPage';
import { machine, operation, pool, provisionedDetail, provisionedRow } from './testData';

const operator: User = { ...adminUser, id: 2, username: 'ops', role: 'operator', is_admin: false };
const auditor: User = { ...adminUser, id: 3, username: 'audit', role: 'auditor', is_admin: false };

function render(user: User = adminUser) {
  return renderAt(<ProvisionedPage />, { route: '/provisioning/clusters/5', path: '/provisioning/clusters/:id', queryClient: testQueryClient(user) });
}

describe('ProvisionedPage', () => {
  it('shows where it came from and its progress, and follows it live per machine', async () => {
    mockFetch({
      'GET /api/provisioning/clusters/5/': () => json(provisionedDetail(5)),
      'GET /api/provisioning/clusters/5/pools/': () => json([pool('workers')]),
    });
    render();
    expect(await screen.findByTestId('provisioned-from')).toHaveTextContent('sandbox-basic v1 on management cluster mgmt-1');
    expect(screen.getByTestId('provisioned-cluster-link')).toHaveAttribute('href', '/clusters/42');
    const progress = screen.getByTestId('provisioning-progress');
    expect(within(progress).getByTestId('progress-cp-initialized')).toHaveAttribute('data-done', 'true');
    expect(within(progress).getByTestId('progress-machines')).toHaveTextContent('2/3 machines running');
    expect(within(progress).getByTestId('progress-nodes')).toHaveAttribute('data-done', 'false');
    expect(screen.getByTestId('machine-demo-workers-2')).toHaveAttribute('data-phase', 'Provisioning');
    expect(await screen.findByTestId('pool-workers')).toHaveTextContent('small');

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'provisioning.5' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'provisioning.5', seq: 1 }));
    const row = provisionedRow(5);
    const draining = machine('demo-workers-2', { draining: true, deleting: true, reason: 'Draining', message: 'Cannot evict pod web-1 (PodDisruptionBudget)' });
    act(() =>
      ws.serverSend({
        type: 'provisioned.updated',
        group: 'provisioning.5',
        seq: 2,
        data: { ...row, phase: 'updating', progress: { ...row.progress, machines: [row.progress.machines?.[0], row.progress.machines?.[1], draining], machines_running: 3, nodes_ready: 3 } },
      }),
    );
    await waitFor(() => expect(screen.getByTestId('machine-demo-workers-2')).toHaveAttribute('data-draining', 'true'));
    expect(screen.getByTestId('machine-demo-workers-2')).toHaveTextContent('PodDisruptionBudget');
    expect(screen.getByTestId('provisioned-phase')).toHaveAttribute('data-phase', 'updating');
    act(() => ws.serverSend({ type: 'operation.updated', group: 'provisioning.5', seq: 3, data: operation(7, { provisioned: 5, kind: 'scale_pool', spec: { pool: 'workers', replicas: 1 } }) }));
    expect(await screen.findByTestId('operation-7')).toHaveTextContent('Scale a node pool');
    act(() => ws.serverSend({ type: 'operation.updated', group: 'provisioning.5', seq: 4, data: operation(7, { provisioned: 5, kind: 'scale_pool', status: 'succeeded' }) }));
    await waitFor(() => expect(screen.getByTestId('operation-7')).toHaveAttribute('data-status', 'succeeded'));
  });

  it('scales, resizes, adds and deletes node pools (operators), with the server refusals shown', async () => {
    const seen = mockFetch({
      'GET /api/provisioning/clusters/5/': () => json(provisionedDetail(5)),
      'GET /api/provisioning/clusters/5/pools/': () => json([pool('workers')]),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'PATCH /api/provisioning/clusters/5/pools/workers/': async (r) => {
        const body = (await r.json()) as { replicas?: number };
        if (body.replicas !== undefined && body.replicas > 100)
          return json({ detail: 'Replicas must be between 0 and 100.', code: 'pool_replicas_invalid', errors: { replicas: ['Replicas must be between 0 and 100.'] } }, { status: 400 });
        return json({ provisioned: provisionedRow(5, { phase: 'updating' }), operation: operation(8, { provisioned: 5, kind: 'scale_pool' }) }, { status: 202 });
      },
      'POST /api/provisioning/clusters/5/pools/': () => json({ provisioned: provisionedRow(5), operation: operation(9, { kind: 'add_pool' }) }, { status: 202 }),
      'DELETE /api/provisioning/clusters/5/pools/workers/': () => json({ detail: 'The last pool cannot be deleted.', code: 'last_pool' }, { status: 409 }),
    });
    const user = userEvent.setup();
    render(operator);
    await user.click(await screen.findByTestId('scale-workers'));
    const replicas = screen.getByTestId('scale-pool-replicas');
    await user.clear(replicas);
    await user.type(replicas, '500');
    await user.click(screen.getByTestId('scale-pool-submit'));
    expect(await screen.findByText('Replicas must be between 0 and 100.')).toBeInTheDocument();
    await user.clear(replicas);
    await user.type(replicas, '5');
    await user.click(screen.getByTestId('scale-pool-submit'));
    await waitFor(() => expect(screen.queryByTestId('scale-pool-dialog')).not.toBeInTheDocument());
    const patches = seen.filter((r) => r.method === 'PATCH');
    expect(await patches[patches.length - 1]?.json()).toEqual({ replicas: 5 });
    await waitFor(() => expect(screen.getByTestId('provisioned-phase')).toHaveAttribute('data-phase', 'updating'));

    await user.click(screen.getByTestId('resize-workers'));
    await user.selectOptions(screen.getByTestId('resize-pool-size'), 'large');
    await user.click(screen.getByTestId('resize-pool-submit'));
    await waitFor(() => expect(screen.queryByTestId('resize-pool-dialog')).not.toBeInTheDocument());
    const resized = seen.filter((r) => r.method === 'PATCH');
    expect(await resized[resized.length - 1]?.json()).toEqual({ machine_size: 'large' });

    await user.click(screen.getByTestId('add-pool'));
    await user.type(screen.getByTestId('add-pool-name'), 'gpu');
    await user.selectOptions(screen.getByTestId('add-pool-size'), 'xlarge');
    await user.click(screen.getByTestId('add-pool-submit'));
    await waitFor(() => expect(screen.queryByTestId('add-pool-dialog')).not.toBeInTheDocument());
    expect(await seen.find((r) => r.method === 'POST' && r.url.endsWith('/pools/'))?.json()).toEqual({ name: 'gpu', replicas: 1, machine_size: 'xlarge' });

    await user.click(screen.getByTestId('delete-pool-workers'));
    await user.click(screen.getByTestId('delete-pool-submit'));
    expect(await within(screen.getByTestId('confirm-dialog')).findByRole('alert')).toHaveTextContent('last pool');
    // operators operate but neither create nor delete clusters
    expect(screen.queryByTestId('delete-provisioned')).not.toBeInTheDocument();
    expect(screen.getByTestId('upgrade-cluster')).toBeInTheDocument();
  });

  it('upgrades to an offered version and deletes with type-to-confirm, forcing past live service maps as admin', async () => {
    let deletes = 0;
    const seen = mockFetch({
      'GET /api/provisioning/clusters/5/': () => json(provisionedDetail(5)),
      'GET /api/provisioning/clusters/5/pools/': () => json([pool('workers')]),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/provisioning/clusters/5/upgrade/': () => json({ provisioned: provisionedRow(5, { phase: 'updating' }), operation: operation(10, { kind: 'upgrade' }) }, { status: 202 }),
      'DELETE /api/provisioning/clusters/5/': () => {
        deletes += 1;
        if (deletes === 1)
          return json(
            { detail: '2 service maps still live on demo.', code: 'service_maps_live', params: { cluster: 'demo', count: 2, service_maps: ['team-1/shop', 'team-2/api'] } },
            { status: 409 },
          );
        return json({ provisioned: provisionedRow(5, { phase: 'deleting' }), operation: operation(11, { kind: 'delete' }) }, { status: 202 });
      },
    });
    const user = userEvent.setup();
    render();
    await user.click(await screen.findByTestId('upgrade-cluster'));
    expect(screen.getByTestId('upgrade-dialog')).toHaveTextContent('Current version: v1.30.4');
    await user.click(screen.getByTestId('upgrade-submit'));
    await waitFor(() => expect(screen.queryByTestId('upgrade-dialog')).not.toBeInTheDocument());
    expect(await seen.find((r) => r.url.endsWith('/upgrade/'))?.json()).toEqual({ version: 'v1.31.0' });

    await user.click(screen.getByTestId('delete-provisioned'));
    expect(screen.getByTestId('type-confirm-submit')).toBeDisabled();
    await user.type(screen.getByTestId('type-confirm-input'), 'demo');
    await user.click(screen.getByTestId('type-confirm-submit'));
    expect(await screen.findByTestId('delete-live-maps')).toHaveTextContent('team-1/shop, team-2/api');
    await user.click(screen.getByTestId('delete-force'));
    await user.click(screen.getByTestId('type-confirm-submit'));
    await waitFor(() => expect(screen.queryByTestId('type-confirm-dialog')).not.toBeInTheDocument());
    const bodies = await Promise.all(seen.filter((r) => r.method === 'DELETE').map((r) => r.json()));
    expect(bodies).toEqual([{ confirm: 'demo' }, { confirm: 'demo', force: true }]);
    await waitFor(() => expect(screen.getByTestId('provisioned-phase')).toHaveAttribute('data-phase', 'deleting'));
  });

  it('is read-only for auditors', async () => {
    mockFetch({
      'GET /api/provisioning/clusters/5/': () => json(provisionedDetail(5)),
      'GET /api/provisioning/clusters/5/pools/': () => json([pool('workers')]),
    });
    render(auditor);
    await screen.findByTestId('pool-workers');
    expect(screen.queryByTestId('scale-workers')).not.toBeInTheDocument();
    expect(screen.queryByTestId('upgrade-cluster')).not.toBeInTheDocument();
    expect(screen.queryByTestId('delete-provisioned')).not.toBeInTheDocument();
  });
});

describe('ClusterProvisioningTab', () => {
  it('says from which management cluster and template a cluster was provisioned', async () => {
    const seen = mockFetch({ 'GET /api/provisioning/clusters/': () => json([provisionedRow(5)]) });
    renderAt(<ClusterProvisioningTab clusterId={42} />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('cluster-provisioning')).toHaveTextContent('from management cluster mgmt-1 with template sandbox-basic v1');
    expect(screen.getByTestId('open-provisioned')).toHaveAttribute('href', '/provisioning/clusters/5');
    expect(new URL(seen[0]!.url).searchParams.get('cluster')).toBe('42');
  });
});
