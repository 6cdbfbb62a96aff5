import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { page } from '../test/clusters';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { ROLES, allocation, member, serviceMap, workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { WorkspaceDetailPage } from './WorkspaceDetailPage';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

function render(route: string, me: User) {
  return renderAt(<WorkspaceDetailPage />, { route, path: '/workspaces/:id/:tab?', queryClient: testQueryClient(me) });
}

const base = (ws = workspace(1)) => ({
  'GET /api/workspaces/1/': () => json(ws),
  'GET /api/workspaces/1/allocations/': () => json([allocation(3)]),
  'GET /api/workspaces/1/members/': () => json(page([member(1, 'kim', 'manager'), member(2, 'lee')])),
  'GET /api/workspaces/1/servicemaps/': () => json(page([serviceMap(7)])),
  'GET /api/workspaces/roles/': () => json(ROLES),
  'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
});

describe('WorkspaceDetailPage', () => {
  it('shows allocations with used/shared/allocated bars and hides admin actions from members', async () => {
    mockFetch(base(workspace(1, { my_role: 'viewer', my_grants: [] })));
    render('/workspaces/1', dev);
    const card = await screen.findByTestId('allocation-seoul-prod');
    expect(within(card).getByTestId('allocation-status')).toHaveAttribute('data-status', 'ready');
    const cpu = within(card).getByTestId('quota-requests.cpu');
    expect(cpu).toHaveTextContent('1500m');
    expect(cpu).toHaveTextContent('6 shared');
    expect(cpu).toHaveTextContent('/ 8');
    expect(screen.queryByTestId('add-allocation')).not.toBeInTheDocument();
    expect(within(card).queryByTestId('edit-allocation')).not.toBeInTheDocument();
  });

  it('shows registries read-only to members; admins add them and see 400s at the field', async () => {
    mockFetch({
      ...base(workspace(1, { my_role: 'developer' })),
      'GET /api/workspaces/1/registries/': () => json([{ id: 4, registry: 'registry.example.com/team-1', description: '', created: '2026-11-01T00:00:00Z' }]),
      'POST /api/workspaces/1/registries/': () =>
        json({ detail: 'Invalid input.', errors: { registry: ['Give a registry host without a scheme.'] } }, { status: 400 }),
    });
    const { unmount } = render('/workspaces/1/registries', dev);
    expect(await screen.findByTestId('registry-row-registry.example.com/team-1')).toBeInTheDocument();
    expect(screen.queryByTestId('add-registry-form')).not.toBeInTheDocument();
    expect(screen.queryByTestId('remove-registry-4')).not.toBeInTheDocument();
    unmount();
    render('/workspaces/1/registries', adminUser);
    const user = userEvent.setup();
    const form = await screen.findByTestId('add-registry-form');
    await user.type(within(form).getByRole('textbox', { name: 'Registry' }), 'https://x.io');
    await user.click(screen.getByTestId('add-registry-submit'));
    expect(await within(form).findByText('Give a registry host without a scheme.')).toBeInTheDocument();
    expect(screen.queryByTestId('registry-error')).not.toBeInTheDocument();
  });

  it('hides member and service map actions without the grants', async () => {
    mockFetch(base(workspace(1, { my_role: 'developer', my_grants: ['workloads.deploy'] })));
    const { unmount } = render('/workspaces/1/members', dev);
    expect(await screen.findByTestId('member-row-kim')).toHaveTextContent('Manager');
    expect(screen.queryByTestId('add-member-form')).not.toBeInTheDocument();
    expect(screen.queryByTestId('remove-member-kim')).not.toBeInTheDocument();
    unmount();
    render('/workspaces/1/servicemaps', dev);
    expect(await screen.findByTestId('servicemap-row-shop-7')).toBeInTheDocument();
    expect(screen.queryByTestId('create-servicemap')).not.toBeInTheDocument();
  });

  it('lets a manager add a member from the candidates and shows a 409', async () => {
    const seen = mockFetch({
      ...base(workspace(1, { my_role: 'manager', my_grants: ['members.manage', 'servicemaps.manage'] })),
      'GET /api/workspaces/1/members/candidates/': () => json([{ id: 9, username: 'park', name: 'Park' }]),
      'POST /api/workspaces/1/members/': () => json({ detail: 'park is already a member.' }, { status: 409 }),
    });
    render('/workspaces/1/members', dev);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('candidate-park'));
    await user.selectOptions(screen.getByTestId('member-role'), 'viewer');
    await user.click(screen.getByTestId('add-member-submit'));
    expect(await screen.findByTestId('member-error')).toHaveTextContent('park is already a member.');
    const post = seen.find((r) => r.method === 'POST');
    expect(await post!.json()).toEqual({ user: 'park', role: 'viewer' });
    expect(screen.getByTestId('remove-member-kim')).toBeInTheDocument();
  });

  it('creates a service map with the remaining share per key shown', async () => {
    const seen = mockFetch({
      ...base(workspace(1, { my_role: 'manager', my_grants: ['servicemaps.manage'] })),
      'POST /api/workspaces/1/servicemaps/': () =>
        json({ detail: 'Invalid input.', errors: { 'quota.requests.cpu': ['requests.cpu: 6 of 8 is shared; at most 2 is left'] } }, { status: 400 }),
    });
    render('/workspaces/1/servicemaps', dev);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('create-servicemap'));
    const dialog = screen.getByTestId('create-servicemap-dialog');
    await waitFor(() => expect(within(dialog).getByTestId('quota-field-requests.cpu')).toHaveTextContent('CPU requests (cores) · 2 left'));
    expect(within(dialog).getByTestId('quota-field-requests.cpu')).toHaveTextContent('requests.cpu'); // the raw key, in small type
    expect(within(dialog).getByTestId('quota-input-requests.cpu')).toHaveAttribute('placeholder', 'empty = 0 (none)');
    await user.type(within(dialog).getByRole('textbox', { name: 'Namespace' }), 'shop-prod');
    await user.type(within(dialog).getByTestId('quota-input-requests.cpu'), '3');
    await user.click(screen.getByTestId('create-servicemap-submit'));
    expect(await within(dialog).findByText('requests.cpu: 6 of 8 is shared; at most 2 is left')).toBeInTheDocument();
    expect(within(dialog).getByTestId('quota-input-requests.cpu')).toHaveAttribute('aria-invalid', 'true');
    const post = seen.find((r) => r.method === 'POST');
    expect(await post!.json()).toMatchObject({ cluster: 1, namespace: 'shop-prod', quota: { 'requests.cpu': '3' } });
  });

  it('offers "force" when lowering a quota answers 409, and sends it', async () => {
    let calls = 0;
    const seen = mockFetch({
      ...base(),
      'PATCH /api/workspaces/1/allocations/3/': () => {
        calls += 1;
        if (calls === 1) return json({ detail: 'requests.cpu: 1500m is in use, above 1.' }, { status: 409 });
        return json(allocation(3, { quota: { 'requests.cpu': '1' }, warnings: ['requests.cpu: 1500m used of 1'] }));
      },
    });
    render('/workspaces/1', adminUser);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('edit-allocation'));
    const dialog = screen.getByTestId('allocation-dialog');
    expect(within(dialog).queryByTestId('allocation-force')).not.toBeInTheDocument();
    const cpu = within(dialog).getByTestId('quota-input-requests.cpu');
    await user.clear(cpu);
    await user.type(cpu, '1');
    await user.click(screen.getByTestId('allocation-submit'));
    expect(await within(dialog).findByTestId('allocation-error')).toHaveTextContent('1500m is in use');
    await user.click(within(dialog).getByTestId('allocation-force'));
    await user.click(screen.getByTestId('allocation-submit'));
    expect(await screen.findByTestId('allocation-warnings')).toHaveTextContent('1500m used of 1');
    const patches = seen.filter((r) => r.method === 'PATCH');
    expect(await patches[0]!.json()).toMatchObject({ force: false });
    expect(await patches[1]!.json()).toMatchObject({ force: true, quota: { 'requests.cpu': '1' } });
  });

  it('patches service map rows from workspace.<id> events', async () => {
    mockFetch(base(workspace(1, { my_role: 'viewer' })));
    render('/workspaces/1/servicemaps', dev);
    const row = await screen.findByTestId('servicemap-row-shop-7');
    expect(within(row).getByTestId('usage-requests.cpu')).toHaveTextContent('300m');
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'workspace.1' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'workspace.1', seq: 1 }));
    act(() =>
      ws.serverSend({
        type: 'servicemap.updated',
        group: 'workspace.1',
        seq: 2,
        data: serviceMap(7, { usage: { 'requests.cpu': { hard: '2', used: '1500m' } }, status: 'error', message: 'quota apply failed' }),
      }),
    );
    await waitFor(() => expect(within(row).getByTestId('usage-requests.cpu')).toHaveTextContent('1500m'));
    expect(within(row).getByTestId('servicemap-status')).toHaveAttribute('data-status', 'error');
    act(() => ws.serverSend({ type: 'servicemap.deleted', group: 'workspace.1', seq: 3, data: { id: 7 } }));
    await waitFor(() => expect(screen.queryByTestId('servicemap-row-shop-7')).not.toBeInTheDocument());
  });

  it('deletes a workspace after typing its name; a 409 is shown', async () => {
    mockFetch({
      ...base(),
      'DELETE /api/workspaces/1/': () => json({ detail: 'team-1 still has 1 service map: delete it first.' }, { status: 409 }),
    });
    render('/workspaces/1/settings', adminUser);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('delete-workspace'));
    expect(screen.getByTestId('type-confirm-submit')).toBeDisabled();
    await user.type(screen.getByTestId('type-confirm-input'), 'team-1');
    await user.click(screen.getByTestId('type-confirm-submit'));
    expect(await within(screen.getByTestId('type-confirm-dialog')).findByRole('alert')).toHaveTextContent('still has 1 service map');
  });
});
