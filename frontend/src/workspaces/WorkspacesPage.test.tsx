import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page } from '../test/clusters';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { WorkspacesPage } from './WorkspacesPage';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

describe('WorkspacesPage', () => {
  it('lists workspaces with counts and quota use bars', async () => {
    mockFetch({
      'GET /api/workspaces/': () =>
        json(page([workspace(1, { my_role: 'developer' }), workspace(2, { name: 'ops', display_name: '', quota_use: [] })])),
    });
    renderAt(<WorkspacesPage />, { route: '/workspaces', queryClient: testQueryClient(dev) });
    const row = await screen.findByTestId('workspace-row-team-1');
    expect(row).toHaveTextContent('Team 1');
    expect(row).toHaveTextContent('Developer'); // the built-in role translated, the same word as on the members tab
    expect(within(row).getByTestId('cell-clusters')).toHaveTextContent('1');
    expect(within(row).getByTestId('cell-members')).toHaveTextContent('2');
    expect(within(row).getByTestId('cell-servicemaps')).toHaveTextContent('1');
    const cpu = within(row).getByTestId('use-requests.cpu');
    expect(cpu).toHaveTextContent('1500m');
    expect(cpu).toHaveAttribute('data-percent', '18.8');
    expect(within(row).getByTestId('use-requests.memory')).toHaveAttribute('data-percent', '25');
    expect(within(screen.getByTestId('workspace-row-ops')).getByTestId('workspace-link')).toHaveAttribute('href', '/workspaces/2');
    // only admins create workspaces
    expect(screen.queryByTestId('create-workspace')).not.toBeInTheDocument();
  });

  it('creates a workspace and shows 400 field errors beside their inputs', async () => {
    let attempts = 0;
    const seen = mockFetch({
      'GET /api/workspaces/': () => json(page([])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/workspaces/': () => {
        attempts += 1;
        if (attempts === 1)
          return json(
            { detail: 'Invalid input.', errors: { name: ['Enter a valid DNS-1123 label.'] } },
            { status: 400 },
          );
        return json(workspace(7, { name: 'team-a' }), { status: 201 });
      },
    });
    renderAt(<WorkspacesPage />, { route: '/workspaces', queryClient: testQueryClient(adminUser) });
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('create-workspace'));
    const dialog = screen.getByTestId('create-workspace-dialog');
    await user.type(within(dialog).getByRole('textbox', { name: 'Name' }), 'Team_A');
    await user.type(within(dialog).getByRole('textbox', { name: 'Display name' }), 'Team A');
    await user.click(screen.getByTestId('create-workspace-submit'));
    const name = within(dialog).getByRole('textbox', { name: 'Name' });
    await waitFor(() => expect(name).toHaveAttribute('aria-invalid', 'true'));
    expect(dialog).toHaveTextContent('Enter a valid DNS-1123 label.');
    expect(screen.queryByTestId('workspace-error')).not.toBeInTheDocument(); // placed at its field only
    await user.clear(name);
    await user.type(name, 'team-a');
    await user.click(screen.getByTestId('create-workspace-submit'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/workspaces/7'));
    const posts = seen.filter((r) => r.method === 'POST');
    expect(await posts[1]!.json()).toEqual({ name: 'team-a', display_name: 'Team A', description: '' });
  });
});
