import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import i18n from '../i18n';
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

describe('LoginPage with single sign-on', () => {
  const providers = () =>
    json([
      { name: 'corp', display_name: 'Corp SSO', kind: 'oidc' },
      { name: 'ad', display_name: 'Head office AD', kind: 'ldap' },
    ]);

  it('offers one button per OIDC provider that starts its flow with next=', async () => {
    mockFetch({ 'GET /api/auth/providers/': providers });
    renderAt(<LoginPage />, { route: '/login?next=%2Fworkspaces%3Fq%3Dx', path: '/login', queryClient: testQueryClient(null) });
    const button = await screen.findByRole('link', { name: 'Sign in with Corp SSO' });
    expect(button).toHaveAttribute('href', '/api/auth/oidc/corp/start/?next=%2Fworkspaces%3Fq%3Dx');
    // The LDAP provider is not a button: it is where the form's password is checked.
    expect(screen.queryByRole('link', { name: /Head office AD/ })).not.toBeInTheDocument();
    expect(screen.getByRole('radio', { name: 'Head office AD' })).not.toBeChecked();
    expect(screen.getByRole('radio', { name: 'Local account' })).toBeChecked();
  });

  it('never puts another site in the OIDC start link', async () => {
    mockFetch({ 'GET /api/auth/providers/': providers });
    renderAt(<LoginPage />, { route: '/login?next=//evil.example/x', path: '/login', queryClient: testQueryClient(null) });
    expect(await screen.findByRole('link', { name: 'Sign in with Corp SSO' })).toHaveAttribute('href', '/api/auth/oidc/corp/start/?next=%2F');
  });

  it('signs in through the chosen LDAP directory and goes where the user wanted', async () => {
    const seen = mockFetch({
      'GET /api/auth/providers/': providers,
      'GET /api/auth/csrf/': csrf,
      'POST /api/auth/ldap/ad/login/': () => json({ ...adminUser, username: 'kim', role: 'operator', is_admin: false }),
    });
    const { queryClient } = renderAt(<LoginPage />, { route: '/login?next=%2Fclusters', path: '/login', queryClient: testQueryClient(null) });
    await userEvent.setup().click(await screen.findByRole('radio', { name: 'Head office AD' }));
    await submit('kim', 'pw');
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/clusters'));
    const post = seen.find((r) => r.method === 'POST')!;
    expect(new URL(post.url).pathname).toBe('/api/auth/ldap/ad/login/');
    expect(post.headers.get('X-CSRFToken')).toBe('tok-123');
    expect(await post.json()).toEqual({ username: 'kim', password: 'pw' });
    expect(queryClient.getQueryData(['me'])).toMatchObject({ username: 'kim' });
  });

  it("shows an LDAP refusal by its code, in the user's language", async () => {
    mockFetch({
      'GET /api/auth/providers/': providers,
      'GET /api/auth/csrf/': csrf,
      'POST /api/auth/ldap/ad/login/': () =>
        json({ detail: 'Wrong username or password.', code: 'invalid_credentials' }, { status: 401 }),
    });
    renderAt(<LoginPage />, { route: '/login', path: '/login', queryClient: testQueryClient(null) });
    await userEvent.setup().click(await screen.findByRole('radio', { name: 'Head office AD' }));
    await submit('*)(uid=*', 'x');
    expect(await screen.findByTestId('login-error')).toHaveTextContent('Wrong username or password.');
    expect(screen.getByTestId('location')).toHaveTextContent('/login');
  });

  it('explains a sign-in the provider callback refused (?error=<code>)', async () => {
    mockFetch({ 'GET /api/auth/providers/': providers });
    renderAt(<LoginPage />, { route: '/login?error=username_taken', path: '/login', queryClient: testQueryClient(null) });
    expect(await screen.findByTestId('sso-refused')).toHaveTextContent(
      'Your username at the provider is already used by another account of the portal.',
    );
  });

  it('names the provider that refused by its display name', async () => {
    mockFetch({ 'GET /api/auth/providers/': providers });
    renderAt(<LoginPage />, { route: '/login?error=oidc_provider_error&provider=corp', path: '/login', queryClient: testQueryClient(null) });
    await screen.findByRole('link', { name: 'Sign in with Corp SSO' });
    expect(screen.getByTestId('sso-refused')).toHaveTextContent(
      'The identity provider Corp SSO refused the sign-in. Try again, or ask a system admin to check the provider.',
    );
  });

  it('says a refused sign-in happened even for a code it does not know, without echoing free text', async () => {
    mockFetch({ 'GET /api/auth/providers/': providers });
    renderAt(<LoginPage />, { route: '/login?error=brand_new_code', path: '/login', queryClient: testQueryClient(null) });
    expect(await screen.findByTestId('sso-refused')).toHaveTextContent('Sign-in was refused (brand_new_code).');
  });

  it('shows the refusal in Korean', async () => {
    mockFetch({ 'GET /api/auth/providers/': providers });
    await i18n.changeLanguage('ko');
    try {
      renderAt(<LoginPage />, { route: '/login?error=Call%20us%20at%20555', path: '/login', queryClient: testQueryClient(null) });
      expect(await screen.findByTestId('sso-refused')).toHaveTextContent('로그인이 거부되었습니다 (?).');
      expect(await screen.findByRole('link', { name: 'Corp SSO(으)로 로그인' })).toBeInTheDocument();
    } finally {
      await i18n.changeLanguage('en');
    }
  });
});
