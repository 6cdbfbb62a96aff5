import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page } from '../test/clusters';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { RegistriesPage } from './RegistriesPage';
import { registry } from './testData';

const dev: User = { ...adminUser, id: 4, username: 'devon', role: 'user', is_admin: false };

describe('RegistriesPage', () => {
  it('shows members their registries and prefixes, without the admin actions', async () => {
    mockFetch({
      'GET /api/builds/registries/': () =>
        json([
          registry(1, { name: 'builtin', kind: 'builtin', builtin: true, host: '127.0.0.1:55000', prefixes: ['team-1'] }),
          registry(2, { name: 'harbor', kind: 'harbor', status: 'error', message: 'The registry refused the credentials (401).', prefixes: [''] }),
        ]),
    });
    renderAt(<RegistriesPage />, { route: '/registries', queryClient: testQueryClient(dev) });
    const builtin = await screen.findByTestId('registry-row-builtin');
    expect(within(builtin).getByTestId('builtin-badge')).toHaveTextContent('Built-in');
    expect(within(builtin).getByTestId('registry-prefixes')).toHaveTextContent('team-1/…');
    expect(within(builtin).getByTestId('open-registry-builtin')).toHaveAttribute('href', '/registries/1');
    const harbor = screen.getByTestId('registry-row-harbor');
    expect(within(harbor).getByTestId('registry-status')).toHaveAttribute('data-state', 'error');
    expect(within(harbor).getByTestId('registry-message')).toHaveTextContent('401');
    expect(within(harbor).getByTestId('registry-prefixes')).toHaveTextContent('All repositories');
    expect(screen.queryByTestId('add-registry')).not.toBeInTheDocument();
    expect(screen.queryByTestId('edit-registry-harbor')).not.toBeInTheDocument();
  });

  it('lets an admin add a registry from a kind preset, see field errors, and see a refused delete by its code', async () => {
    const seen = mockFetch({
      'GET /api/builds/registries/': () =>
        json([
          registry(1, { name: 'builtin', kind: 'builtin', builtin: true, allocations: [] }),
          registry(2, { name: 'ghcr', kind: 'ghcr', host: 'ghcr.io', allocations: [{ id: 9, workspace: { id: 1, name: 'team-1' }, prefix: 'acme' }] }),
        ]),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/builds/registries/': () => json({ detail: 'Invalid input.', errors: { host: ['A registry with this host exists.'] } }, { status: 400 }),
      'DELETE /api/builds/registries/2/': () =>
        json({ detail: 'Build definitions use registry ghcr: web.', code: 'registry_in_use', params: { registry: 'ghcr' } }, { status: 409 }),
      'GET /api/workspaces/': () => json(page([workspace(1)])),
    });
    renderAt(<RegistriesPage />, { route: '/registries', queryClient: testQueryClient(adminUser) });
    const builtin = await screen.findByTestId('registry-row-builtin');
    expect(within(builtin).queryByTestId('delete-registry-builtin')).not.toBeInTheDocument(); // the built-in one stays
    expect(within(builtin).queryByTestId('rotate-registry-builtin')).not.toBeInTheDocument();

    const user = userEvent.setup();
    await user.click(screen.getByTestId('add-registry'));
    const dialog = screen.getByTestId('registry-dialog');
    const host = within(dialog).getByRole('textbox', { name: 'Host' });
    expect(host).toHaveValue('docker.io');
    await user.selectOptions(within(dialog).getByTestId('registry-kind'), 'quay');
    expect(host).toHaveValue('quay.io');
    await user.selectOptions(within(dialog).getByTestId('registry-kind'), 'harbor');
    expect(host).toHaveValue('');
    await user.type(host, 'harbor.example.com');
    await user.selectOptions(within(dialog).getByTestId('registry-kind'), 'generic');
    expect(host).toHaveValue('harbor.example.com'); // a typed host is kept
    await user.type(within(dialog).getByRole('textbox', { name: 'Name' }), 'harbor');
    await user.type(within(dialog).getByLabelText('Password'), 's3cret');
    await user.click(screen.getByTestId('registry-submit'));
    await waitFor(() => expect(host).toHaveAttribute('aria-invalid', 'true'));
    const body = await seen.find((r) => r.method === 'POST' && r.url.endsWith('/registries/'))!.json();
    expect(body).toMatchObject({ name: 'harbor', kind: 'generic', host: 'harbor.example.com', password: 's3cret', plain_http: false, allow_delete: true });
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));

    await user.click(screen.getByTestId('delete-registry-ghcr'));
    await user.click(screen.getByTestId('confirm-delete-registry'));
    expect(await within(screen.getByTestId('confirm-dialog')).findByRole('alert')).toHaveTextContent('Build definitions use registry ghcr');
  });

  it('rotates a password write-only and allocates a prefix', async () => {
    const seen = mockFetch({
      'GET /api/builds/registries/': () =>
        json([
          registry(1, { name: 'builtin', kind: 'builtin', builtin: true, host: '127.0.0.1:55000', allocations: [] }),
          registry(2, { name: 'ghcr', kind: 'ghcr', host: 'ghcr.io', username: 'bot', allocations: [] }),
        ]),
      'PATCH /api/builds/registries/1/': () => json(registry(1, { builtin: true })),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'PATCH /api/builds/registries/2/': () => json(registry(2)),
      'POST /api/builds/registries/2/allocations/': () => json({ id: 3, workspace: { id: 1, name: 'team-1' }, prefix: 'acme' }, { status: 201 }),
      'GET /api/workspaces/': () => json(page([workspace(1)])),
    });
    renderAt(<RegistriesPage />, { route: '/registries', queryClient: testQueryClient(adminUser) });
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('edit-registry-ghcr'));
    expect(screen.getByTestId('password-state')).toHaveTextContent('A password is set for bot');
    expect(within(screen.getByTestId('registry-dialog')).queryByLabelText('Password')).not.toBeInTheDocument();
    await user.click(within(screen.getByTestId('registry-dialog')).getByRole('button', { name: 'Cancel' }));

    await user.click(screen.getByTestId('rotate-registry-ghcr'));
    await user.type(within(screen.getByTestId('rotate-dialog')).getByLabelText('New password'), 'n3w');
    await user.click(screen.getByTestId('rotate-submit'));
    await waitFor(() => expect(screen.queryByTestId('rotate-dialog')).not.toBeInTheDocument());
    expect(await seen.find((r) => r.method === 'PATCH')!.json()).toEqual({ username: 'bot', password: 'n3w' });

    // the built-in registry: only its description and allow_delete are sent (its connection is the server's)
    await user.click(screen.getByTestId('edit-registry-builtin'));
    const edit = screen.getByTestId('registry-dialog');
    expect(within(edit).getByRole('textbox', { name: 'Host' })).toBeDisabled();
    expect(within(edit).queryByTestId('registry-kind')).not.toBeInTheDocument();
    await user.click(within(edit).getByRole('checkbox', { name: 'Allow deleting tags' }));
    await user.click(screen.getByTestId('registry-submit'));
    await waitFor(() => expect(screen.queryByTestId('registry-dialog')).not.toBeInTheDocument());
    const patchBuiltin = seen.find((r) => r.method === 'PATCH' && r.url.endsWith('/registries/1/'))!;
    expect(await patchBuiltin.json()).toEqual({ allow_delete: false, description: '' });

    await user.click(screen.getByTestId('allocations-registry-ghcr'));
    await waitFor(() => expect(screen.getByTestId('allocation-workspace')).toHaveValue('1'));
    await user.type(screen.getByTestId('allocation-prefix'), 'acme');
    await user.click(screen.getByTestId('allocation-submit'));
    await waitFor(() => expect(seen.some((r) => r.url.endsWith('/allocations/'))).toBe(true));
    expect(await seen.find((r) => r.url.endsWith('/allocations/'))!.json()).toEqual({ workspace: 1, prefix: 'acme' });
  });
});
