import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { UserDetailPage } from '../users/UserDetailPage';

const kim = {
  id: 5,
  username: 'kim',
  email: 'kim@example.com',
  first_name: 'Min',
  last_name: 'Kim',
  role: 'operator',
  is_active: true,
  last_login: '2026-12-01T09:00:00Z',
  date_joined: '2026-11-01T00:00:00Z',
  locked_until: null,
  local_login_enabled: false,
};

describe('user detail identity links', () => {
  it('shows each provider link with subject, groups and last sign-in', async () => {
    mockFetch({
      'GET /api/users/5/': () =>
        json({
          ...kim,
          identities: [
            {
              id: 9,
              provider: 'corp',
              provider_display_name: 'Corp SSO',
              kind: 'oidc',
              provider_enabled: true,
              subject: '248289761001',
              username: 'kim',
              groups: ['shop-devs'],
              last_sign_in: '2026-12-01T09:00:00Z',
            },
          ],
        }),
    });
    renderAt(<UserDetailPage />, { route: '/admin/users/5', path: '/admin/users/:id', queryClient: testQueryClient(adminUser) });
    const link = await screen.findByTestId('identity-link-corp');
    expect(link).toHaveTextContent('Corp SSO (OpenID Connect)');
    expect(link).toHaveTextContent('248289761001');
    expect(link).toHaveTextContent('shop-devs');
    expect(within(link).queryByText('Never')).not.toBeInTheDocument();
    expect(screen.getByTestId('local-login')).toHaveTextContent('Switched off');
  });

  it('says when there are none, and switches the local login off', async () => {
    let local = true;
    const seen = mockFetch({
      'GET /api/users/5/': () => json({ ...kim, local_login_enabled: local, identities: [] }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'PATCH /api/users/5/': () => {
        local = false;
        return json({ ...kim, local_login_enabled: local, identities: [] });
      },
    });
    renderAt(<UserDetailPage />, { route: '/admin/users/5', path: '/admin/users/:id', queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('identity-links-empty')).toHaveTextContent('No identity links: this account signs in locally only.');
    expect(screen.getByTestId('local-login')).toHaveTextContent('Allowed');
    await userEvent.setup().click(screen.getByTestId('toggle-local-login'));
    await waitFor(() => expect(screen.getByTestId('local-login')).toHaveTextContent('Switched off'));
    expect(await seen.find((r) => r.method === 'PATCH')!.json()).toEqual({ local_login_enabled: false });
  });
});
