import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { LoginPage } from './LoginPage';

const csrf = () => json({ csrfToken: 'tok-123' });

async function submit(username: string, password: string) {
  const user = userEvent.setup();
  await user.type(document.querySelector<HTMLInputElement>('input[name=username]')!, username);
  await user.type(document.querySelector<HTMLInputElement>('input[name=password]')!, password);
  await user.click(document.querySelector<HTMLButtonElement>('button[type=submit]')!);
}

describe('LoginPage', () => {
  it('shows the server message for a wrong password and stays on the page', async () => {
    const seen = mockFetch({
      'GET /api/auth/csrf/': csrf,
      'POST /api/auth/login/': () => json({ detail: 'Wrong username or password.' }, { status: 401 }),
    });
    renderAt(<LoginPage />, { route: '/login', path: '/login', queryClient: testQueryClient(null) });
    await submit('admin', 'nope');
    expect(await screen.findByRole('alert')).toHaveTextContent('Wrong username or password.');
    expect(screen.getByTestId('location')).toHaveTextContent('/login');

    const login = seen.find((r) => r.method === 'POST');
    expect(login?.headers.get('X-CSRFToken')).toBe('tok-123');
    expect(login?.credentials).toBe('same-origin');
    expect(await login?.json()).toEqual({ username: 'admin', password: 'nope' });
  });

  it('explains a rate limit with the retry time', async () => {
    mockFetch({
      'GET /api/auth/csrf/': csrf,
      'POST /api/auth/login/': () =>
        json({ detail: 'Request was throttled.' }, { status: 429, headers: { 'Retry-After': '42' } }),
    });
    renderAt(<LoginPage />, { route: '/login', path: '/login', queryClient: testQueryClient(null) });
    await submit('admin', 'x');
    expect(await screen.findByRole('alert')).toHaveTextContent('Too many login attempts. Try again in 42 seconds.');
  });

  it('says when the account itself is locked, wherever the attempts came from', async () => {
    mockFetch({
      'GET /api/auth/csrf/': csrf,
      'POST /api/auth/login/': () =>
        json(
          { detail: 'Too many failed logins for this account.', code: 'account_locked' },
          { status: 429, headers: { 'Retry-After': '600' } },
        ),
    });
    renderAt(<LoginPage />, { route: '/login', path: '/login', queryClient: testQueryClient(null) });
    await submit('admin', 'x');
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Too many failed logins for this account: it is locked for 10 more minutes. Try again later, or ask an administrator to unlock it.',
    );
  });

  it('puts field errors next to their field', async () => {
    mockFetch({
      'GET /api/auth/csrf/': csrf,
      'POST /api/auth/login/': () =>
        json({ detail: 'Invalid input.', errors: { username: ['This field may not be blank.'] } }, { status: 400 }),
    });
    renderAt(<LoginPage />, { route: '/login', path: '/login', queryClient: testQueryClient(null) });
    await submit(' ', 'x');
    const usernameInput = document.querySelector('input[name=username]')!;
    await waitFor(() => expect(usernameInput).toHaveAttribute('aria-invalid', 'true'));
    expect(usernameInput.closest('.field')).toHaveTextContent('This field may not be blank.');
    expect(screen.getByRole('textbox', { name: 'Username' })).toHaveAccessibleDescription('This field may not be blank.');
  });

  it('goes where the user wanted after logging in', async () => {
    mockFetch({
      'GET /api/auth/csrf/': csrf,
      'POST /api/auth/login/': () => json(adminUser),
    });
    const { queryClient } = renderAt(<LoginPage />, {
      route: '/login?next=%2Fadmin%2Faudit%3Foutcome%3Ddenied',
      path: '/login',
      queryClient: testQueryClient(null),
    });
    await submit('admin', 'secret');
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/admin/audit?outcome=denied'));
    expect(queryClient.getQueryData(['me'])).toEqual(adminUser);
  });

  it('never follows a next= that points to another site', async () => {
    mockFetch({
      'GET /api/auth/csrf/': csrf,
      'POST /api/auth/login/': () => json(adminUser),
    });
    renderAt(<LoginPage />, { route: '/login?next=//evil.example/x', path: '/login', queryClient: testQueryClient(null) });
    await submit('admin', 'secret');
    await waitFor(() => expect(screen.getByTestId('location').textContent).toBe('/'));
  });
});
