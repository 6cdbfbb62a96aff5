import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import i18n from '../i18n';
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
          { key: 'objects.edit', description: 'Edit objects (YAML)' },
          { key: 'pods.logs', description: 'Read container logs' },
          { key: 'future.grant', description: 'A grant the console does not know yet' },
        ]),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/workspaces/roles/': () => json({ id: 9, key: 'restarter', name: 'Restarter', description: '', grants: ['workloads.restart'], builtin: false }, { status: 201 }),
    });
    renderAt(<RolesPage />, { queryClient: testQueryClient(adminUser) });
    const manager = await screen.findByTestId('role-row-manager');
    expect(manager).toHaveClass('role-builtin');
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

  it('labels grants in the language of the reader, with the key beside them', async () => {
    mockFetch({
      'GET /api/workspaces/roles/': () =>
        json([...ROLES.slice(0, 2), { ...ROLES[2], grants: ['pods.logs'] }, { id: 4, key: 'shell', name: 'Shell', description: '', grants: ['pods.exec', 'objects.delete'], builtin: false }]),
      'GET /api/workspaces/roles/grants/': () =>
        json([
          { key: 'objects.edit', description: 'Edit objects (YAML)' },
          { key: 'future.grant', description: 'A grant the console does not know yet' },
        ]),
    });
    await i18n.changeLanguage('ko');
    try {
      renderAt(<RolesPage />, { queryClient: testQueryClient(adminUser) });
      const logs = await screen.findByTestId('role-viewer-grant-pods.logs');
      expect(logs).toHaveTextContent('컨테이너 로그 보기');
      expect(logs).toHaveAttribute('title', 'pods.logs');
      expect(screen.getByTestId('role-shell-grant-pods.exec')).toHaveTextContent('컨테이너 셸 열기');
      expect(screen.getByTestId('role-shell-grant-objects.delete')).toHaveTextContent('오브젝트, 워크로드, 파드 삭제');
      await userEvent.setup().click(screen.getByTestId('create-role'));
      const grants = within(screen.getByTestId('role-dialog')).getByTestId('role-grants');
      await within(grants).findByTestId('grant-objects.edit');
      expect(grants).toHaveTextContent('오브젝트 편집(YAML)');
      expect(grants).toHaveTextContent('objects.edit');
      expect(grants).toHaveTextContent('A grant the console does not know yet'); // the server's words for an unknown grant
    } finally {
      await i18n.changeLanguage('en');
    }
  });
});
