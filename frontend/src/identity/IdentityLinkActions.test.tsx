import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import i18n from '../i18n';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { UserDetailPage } from '../users/UserDetailPage';

const kim = {
  id: 5,
  username: 'kim',
  email: 'kim@example.com',
  first_name: 'Min',
  last_name: 'Kim',
  role: 'user',
  is_active: true,
  last_login: null,
  date_joined: '2026-11-01T00:00:00Z',
  locked_until: null,
  local_login_enabled: false,
};
const corpLink = {
  id: 9,
  provider: 'corp',
  provider_display_name: 'Corp SSO',
  kind: 'oidc',
  provider_enabled: true,
  subject: 'sub-9',
  username: 'kim.lee',
  groups: [],
  last_sign_in: null,
};

function render() {
  renderAt(<UserDetailPage />, { route: '/admin/users/5', path: '/admin/users/:id', queryClient: testQueryClient(adminUser) });
}

afterEach(() => void i18n.changeLanguage('en'));

describe('identity link actions on the user detail', () => {
  it('moves a link to a user picked from a search and says the old user was deactivated', async () => {
    let links = [corpLink];
    const seen = mockFetch({
      'GET /api/users/5/': () => json({ ...kim, identities: links }),
      'GET /api/users/': (req) => {
        const q = new URL(req.url).searchParams.get('q');
        return json({ results: q ? [kim, { id: 7, username: 'minkim', first_name: 'Min', last_name: 'Kim' }] : [] });
      },
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/identity/identities/9/link/': () => {
        links = [];
        return json({
          id: 9, provider: 'corp', from_user: 5, to_user: 7, deactivated_user: 5,
          message: 'kim had no other way to sign in and was deactivated; minkim now signs in through Corp SSO.',
          message_code: 'link_previous_user_deactivated',
          message_params: { username: 'kim', target: 'minkim', provider: 'corp' },
        });
      },
    });
    render();
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('move-link-corp'));
    expect(screen.getByTestId('move-link-submit')).toBeDisabled();
    await user.type(screen.getByTestId('link-user-search'), 'kim');
    await user.click(await screen.findByTestId('pick-user-minkim'));
    expect(screen.queryByTestId('pick-user-kim')).not.toBeInTheDocument(); // not the user it already belongs to
    await user.click(screen.getByTestId('move-link-submit'));
    const notice = await screen.findByTestId('identity-links-notice');
    expect(notice).toHaveTextContent('The Corp SSO identity now belongs to minkim.');
    expect(notice).toHaveTextContent('kim had no other way to sign in and was deactivated');
    expect(screen.queryByTestId('move-link-dialog')).not.toBeInTheDocument();
    expect(await seen.find((r) => r.method === 'POST' && r.url.endsWith('/link/'))!.json()).toEqual({ user: 7 });
    await waitFor(() => expect(screen.getByTestId('identity-links-empty')).toBeInTheDocument());
  });

  it('shows a refusal in the dialog, in Korean too', async () => {
    await i18n.changeLanguage('ko');
    mockFetch({
      'GET /api/users/5/': () => json({ ...kim, identities: [corpLink] }),
      'GET /api/users/': () => json({ results: [{ id: 7, username: 'minkim' }] }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/identity/identities/9/link/': () =>
        json({ detail: 'minkim already has an identity at Corp SSO; unlink it first.', code: 'provider_already_linked',
          params: { provider: 'corp', username: 'minkim' } }, { status: 409 }),
    });
    render();
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('move-link-corp'));
    await user.type(screen.getByTestId('link-user-search'), 'min');
    await user.click(await screen.findByTestId('pick-user-minkim'));
    await user.click(screen.getByTestId('move-link-submit'));
    expect(await screen.findByTestId('move-link-error')).toHaveTextContent('minkim에게 이미 corp ID가 있습니다. 먼저 그 연결을 해제하세요.');
    expect(screen.getByTestId('move-link-dialog')).toBeInTheDocument();
  });

  it('unlinks after confirmation and warns when no way to sign in is left', async () => {
    let links = [corpLink];
    const seen = mockFetch({
      'GET /api/users/5/': () => json({ ...kim, identities: links }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/identity/identities/9/unlink/': () => {
        links = [];
        return json({
          user: 5, provider: 'corp', can_sign_in: false,
          message: 'kim has no way to sign in left: link another identity or allow the local login with a password.',
          message_code: 'unlink_no_sign_in_left', message_params: { username: 'kim' },
        });
      },
    });
    render();
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('unlink-corp'));
    expect(screen.getByTestId('unlink-dialog')).toHaveTextContent('Unlink the Corp SSO identity?');
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(seen.some((r) => r.method === 'POST')).toBe(false); // nothing without confirmation
    await user.click(screen.getByTestId('unlink-corp'));
    await user.click(screen.getByTestId('unlink-submit'));
    expect(await screen.findByTestId('identity-links-notice')).toHaveTextContent(
      'kim has no way to sign in left: link another identity or allow the local login with a password.');
    await waitFor(() => expect(screen.getByTestId('identity-links-empty')).toBeInTheDocument());
  });
});
