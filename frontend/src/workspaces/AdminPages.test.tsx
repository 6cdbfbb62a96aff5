import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { ROLES } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { QuotaOverviewPage } from './QuotaOverviewPage';
import { RolesPage } from './RolesPage';

const operator: User = { ...adminUser, id: 2, username: 'op', role: 'operator', is_admin: false };

describe('QuotaOverviewPage', () => {
  it('shows allocated / shared / used per cluster and workspace', async () => {
    mockFetch({
      'GET /api/workspaces/quota-overview/': () =>
        json([
          {
            workspace: { id: 1, name: 'team-a' },
            cluster: { id: 1, name: 'seoul-prod', display_name: '', status: 'connected' },
            quota: { 'requests.cpu': '8' },
            shared: { 'requests.cpu': '6' },
            used: { 'requests.cpu': '2' },
          },
        ]),
    });
    renderAt(<QuotaOverviewPage />, { queryClient: testQueryClient(operator) });
    const row = await screen.findByTestId('quota-row-seoul-prod-team-a');
    expect(within(row).getByTestId('quota-requests.cpu')).toHaveAttribute('data-percent', '25');
    expect(row).toHaveTextContent('6 shared');
  });
});

describe('RolesPage', () => {
  it('keeps built-in roles read-only and creates a custom role with grants', async () => {
    const seen = mockFetch({
      'GET /api/workspaces/roles/': () => json(ROLES),
      'GET /api/workspaces/roles/grants/': () =>
        json([
          { key: 'workloads.restart', description: 'Restart workloads' },
          { key: 'workloads.edit', description: 'Edit workloads' },
        ]),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/workspaces/roles/': () => json({ id: 9, key: 'restarter', name: 'Restarter', description: '', grants: ['workloads.restart'], builtin: false }, { status: 201 }),
    });
    renderAt(<RolesPage />, { queryClient: testQueryClient(adminUser) });
    const manager = await screen.findByTestId('role-row-manager');
    expect(manager).toHaveAttribute('data-builtin', 'true');
    expect(within(manager).queryByTestId('edit-role-manager')).not.toBeInTheDocument();
    const user = userEvent.setup();
    await user.click(screen.getByTestId('create-role'));
    const dialog = screen.getByTestId('role-dialog');
    await user.type(within(dialog).getByRole('textbox', { name: 'Key' }), 'restarter');
    await user.type(within(dialog).getByRole('textbox', { name: 'Name' }), 'Restarter');
    await user.click(await within(dialog).findByTestId('grant-workloads.restart'));
    await user.click(screen.getByTestId('role-submit'));
    await waitFor(() => expect(screen.queryByTestId('role-dialog')).not.toBeInTheDocument());
    const post = seen.find((r) => r.method === 'POST');
    expect(await post!.json()).toEqual({ key: 'restarter', name: 'Restarter', description: '', grants: ['workloads.restart'] });
  });
});
