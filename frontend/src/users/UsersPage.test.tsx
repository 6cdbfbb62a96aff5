import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { AdminUser } from '../api/types';
import { tableViewsHandler } from '../components/table/testing';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { UsersPage } from './UsersPage';

function user(id: number, username: string, overrides: Partial<AdminUser> = {}): AdminUser {
  return {
    id,
    username,
    email: `${username}@example.com`,
    first_name: '',
    last_name: '',
    role: 'user',
    is_active: true,
    last_login: null,
    date_joined: '2026-11-01T00:00:00Z',
    locked_until: null,
    local_login_enabled: true,
    identities: [],
    ...overrides,
  };
}

describe('UsersPage', () => {
  it('sorts on the server from the column headers and keeps the ordering in the URL', async () => {
    const seen = mockFetch({
      ...tableViewsHandler(),
      'GET /api/users/': (req) => {
        const ordering = new URL(req.url).searchParams.get('ordering');
        const rows = [user(1, 'admin', { role: 'admin' }), user(2, 'bora', { role: 'auditor' })];
        return json({ next: null, previous: null, results: ordering === '-username' ? rows.reverse() : rows });
      },
    });
    renderAt(<UsersPage />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('user-row-bora');
    const u = userEvent.setup();
    await u.click(screen.getByTestId('sort-username'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('ordering=username'));
    await u.click(screen.getByTestId('sort-username'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('ordering=-username'));
    await waitFor(() =>
      expect(screen.getAllByTestId(/^user-row-/).map((r) => r.dataset.testid)).toEqual(['user-row-bora', 'user-row-admin']),
    );
    const lists = seen.filter((r) => new URL(r.url).pathname === '/api/users/');
    expect(new URL(lists.at(-1)!.url).searchParams.get('ordering')).toBe('-username');
    expect(screen.getByTestId('users-table')).toHaveAttribute('aria-label', 'Users');
  });

  it('filters by text, role and active state on the server', async () => {
    const seen = mockFetch({ 'GET /api/users/': () => json({ next: null, previous: null, results: [user(1, 'admin', { role: 'admin' })] }) });
    renderAt(<UsersPage />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('user-row-admin')).toHaveTextContent('System admin');
    const u = userEvent.setup();
    const filters = screen.getByTestId('users-filters');
    await u.selectOptions(within(filters).getByRole('combobox', { name: 'Role' }), 'operator');
    await u.selectOptions(within(filters).getByRole('combobox', { name: 'Active' }), 'false');
    await u.type(within(filters).getByRole('searchbox'), 'kim{Enter}');
    await waitFor(() => expect(new URL(seen.at(-1)!.url).searchParams.get('q')).toBe('kim'));
    const params = new URL(seen.at(-1)!.url).searchParams;
    expect(params.get('role')).toBe('operator');
    expect(params.get('is_active')).toBe('false');
  });

  it('shows the 409 detail when the last admin would be demoted', async () => {
    const seen = mockFetch({
      'GET /api/users/': () => json({ next: null, previous: null, results: [user(1, 'admin', { role: 'admin' })] }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'PATCH /api/users/1/': () => json({ detail: 'At least one active system admin must remain.' }, { status: 409 }),
    });
    renderAt(<UsersPage />, { queryClient: testQueryClient(adminUser) });
    const u = userEvent.setup();
    await u.click(await screen.findByTestId('edit-user-admin'));
    const dialog = screen.getByTestId('edit-user-dialog');
    expect(within(dialog).getByRole('option', { name: 'Auditor' })).toBeInTheDocument();
    await u.selectOptions(within(dialog).getByRole('combobox', { name: 'Role' }), 'auditor');
    expect(within(dialog).getByTestId('role-hint')).toHaveTextContent('changes nothing');
    await u.selectOptions(within(dialog).getByRole('combobox', { name: 'Role' }), 'operator');
    await u.click(within(dialog).getByTestId('edit-user-submit'));
    expect(await within(dialog).findByTestId('user-error')).toHaveTextContent('At least one active system admin must remain.');
    const patch = seen.find((r) => r.method === 'PATCH')!;
    expect(await patch.json()).toMatchObject({ role: 'operator', is_active: true });

    // Deactivating from the row gives the same answer, shown on the page.
    await u.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await u.click(screen.getByTestId('toggle-active-admin'));
    expect(await screen.findByTestId('users-error')).toHaveTextContent('At least one active system admin must remain.');
  });

  it('shows a locked account and unlocks it', async () => {
    let locked = true;
    const seen = mockFetch({
      'GET /api/users/': () =>
        json({
          next: null,
          previous: null,
          results: [user(1, 'admin', { role: 'admin' }), user(2, 'kim', { locked_until: locked ? '2026-12-01T10:15:00Z' : null })],
        }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/users/2/unlock/': () => {
        locked = false;
        return json(user(2, 'kim'));
      },
    });
    renderAt(<UsersPage />, { queryClient: testQueryClient(adminUser) });
    const row = await screen.findByTestId('user-row-kim');
    expect(within(row).getByTestId('locked-kim')).toHaveTextContent('Locked');
    expect(screen.queryByTestId('locked-admin')).not.toBeInTheDocument();
    expect(screen.queryByTestId('unlock-user-admin')).not.toBeInTheDocument();
    const u = userEvent.setup();
    await u.click(within(row).getByTestId('unlock-user-kim'));
    await waitFor(() => expect(screen.queryByTestId('locked-kim')).not.toBeInTheDocument());
    expect(screen.queryByTestId('unlock-user-kim')).not.toBeInTheDocument();
    expect(seen.filter((r) => r.method === 'POST').map((r) => new URL(r.url).pathname)).toEqual(['/api/users/2/unlock/']);
  });

  it('creates a user with a role and shows field errors from the server', async () => {
    let attempt = 0;
    const seen = mockFetch({
      'GET /api/users/': () => json({ next: null, previous: null, results: [] }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/users/': () => {
        attempt += 1;
        return attempt === 1
          ? json({ detail: 'Invalid input.', errors: { password: ['This password is too common.'] } }, { status: 400 })
          : json(user(5, 'kim', { role: 'operator' }), { status: 201 });
      },
    });
    renderAt(<UsersPage />, { queryClient: testQueryClient(adminUser) });
    const u = userEvent.setup();
    await u.click(await screen.findByTestId('create-user'));
    const dialog = screen.getByTestId('create-user-dialog');
    await u.type(within(dialog).getByRole('textbox', { name: 'Username' }), 'kim');
    await u.selectOptions(within(dialog).getByRole('combobox', { name: 'Role' }), 'operator');
    await u.type(within(dialog).getByLabelText('Password'), 'password');
    await u.click(within(dialog).getByTestId('create-user-submit'));
    expect(await within(dialog).findByText('This password is too common.')).toBeInTheDocument();
    await u.clear(within(dialog).getByLabelText('Password'));
    await u.type(within(dialog).getByLabelText('Password'), 'a-much-better-one-42');
    await u.click(within(dialog).getByTestId('create-user-submit'));
    await waitFor(() => expect(screen.queryByTestId('create-user-dialog')).not.toBeInTheDocument());
    expect(await seen.filter((r) => r.method === 'POST').at(-1)!.json()).toMatchObject({ username: 'kim', role: 'operator', password: 'a-much-better-one-42' });
  });
});
