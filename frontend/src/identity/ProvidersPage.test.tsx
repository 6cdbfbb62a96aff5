import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import i18n from '../i18n';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ProvidersPage } from './ProvidersPage';
import type { IdentityProvider } from './types';

const csrf = () => json({ csrfToken: 't' });

/** Puts text in a field at once (typing it key by key is slow on a loaded machine). */
async function fill(u: ReturnType<typeof userEvent.setup>, field: HTMLElement, text: string) {
  await u.click(field);
  await u.paste(text);
}

function provider(overrides: Partial<IdentityProvider> = {}): IdentityProvider {
  return {
    id: 1,
    name: 'corp',
    display_name: 'Corp SSO',
    kind: 'oidc',
    enabled: true,
    config: { issuer: 'https://id.example', client_id: 'portal', scopes: ['openid', 'groups'] },
    has_secret: true,
    identities: 3,
    created: '2026-12-01T00:00:00Z',
    updated: '2026-12-01T00:00:00Z',
    ...overrides,
  };
}

describe('ProvidersPage', () => {
  it('lists providers with kind, address, secret state and people; toggles enabled', async () => {
    let enabled = true;
    const seen = mockFetch({
      'GET /api/identity/providers/': () =>
        json([provider({ enabled }), provider({ id: 2, name: 'ad', display_name: 'AD', kind: 'ldap', has_secret: false, config: { server_uri: 'ldaps://dc:636' } })]),
      'GET /api/auth/csrf/': csrf,
      'PATCH /api/identity/providers/1/': () => {
        enabled = false;
        return json(provider({ enabled }));
      },
    });
    renderAt(<ProvidersPage />, { queryClient: testQueryClient(adminUser) });
    const corp = await screen.findByTestId('provider-row-corp');
    expect(corp).toHaveTextContent('OpenID Connect');
    expect(corp).toHaveTextContent('https://id.example');
    expect(corp).toHaveTextContent('Set');
    expect(corp).toHaveTextContent('Enabled');
    const ad = screen.getByTestId('provider-row-ad');
    expect(ad).toHaveTextContent('LDAP / Active Directory');
    expect(ad).toHaveTextContent('ldaps://dc:636');
    expect(ad).toHaveTextContent('Not set');
    expect(within(corp).getByTestId('mappings-corp')).toHaveAttribute('href', '/admin/identity/1');

    await userEvent.setup().click(within(corp).getByTestId('toggle-provider-corp'));
    await waitFor(() => expect(screen.getByTestId('provider-row-corp')).toHaveTextContent('Disabled'));
    expect(await seen.find((r) => r.method === 'PATCH')!.json()).toEqual({ enabled: false });
  });

  it('creates an LDAP provider with its own fields and the bind password', async () => {
    const seen = mockFetch({
      'GET /api/identity/providers/': () => json([]),
      'GET /api/auth/csrf/': csrf,
      'POST /api/identity/providers/': () => json(provider({ id: 3, name: 'ad', kind: 'ldap' }), { status: 201 }),
    });
    renderAt(<ProvidersPage />, { queryClient: testQueryClient(adminUser) });
    const u = userEvent.setup();
    await u.click(await screen.findByTestId('create-provider'));
    const dialog = screen.getByTestId('provider-dialog');
    await fill(u, within(dialog).getByRole('textbox', { name: 'Name' }), 'ad');
    await u.selectOptions(within(dialog).getByRole('combobox', { name: 'Kind' }), 'ldap');
    // The OIDC fields are gone, the LDAP ones are there with their defaults.
    expect(within(dialog).queryByRole('textbox', { name: /Issuer URL/ })).not.toBeInTheDocument();
    expect(within(dialog).getByRole('textbox', { name: 'User filter' })).toHaveValue('(uid={username})');
    await fill(u, within(dialog).getByRole('textbox', { name: 'Display name' }), 'Head office AD');
    await fill(u, within(dialog).getByRole('textbox', { name: /Server URI/ }), 'ldaps://dc.example:636');
    await fill(u, within(dialog).getByRole('textbox', { name: /User search base/ }), 'ou=people,dc=example,dc=org');
    await fill(u, within(dialog).getByRole('textbox', { name: 'Service account DN' }), 'cn=portal,dc=example,dc=org');
    await u.click(within(dialog).getByRole('checkbox', { name: 'Resolve nested groups' }));
    await fill(u, within(dialog).getByLabelText('Bind password'), 's3cret');
    expect(within(dialog).getByTestId('secret-state')).toHaveTextContent('The secret will be stored encrypted.');
    await u.click(within(dialog).getByTestId('provider-submit'));
    await waitFor(() => expect(screen.queryByTestId('provider-dialog')).not.toBeInTheDocument());
    const body = await seen.find((r) => r.method === 'POST' && r.url.endsWith('/api/identity/providers/'))!.json();
    expect(body).toMatchObject({
      name: 'ad',
      kind: 'ldap',
      display_name: 'Head office AD',
      enabled: true,
      secret: 's3cret',
      config: {
        server_uri: 'ldaps://dc.example:636',
        user_search_base: 'ou=people,dc=example,dc=org',
        bind_dn: 'cn=portal,dc=example,dc=org',
        user_filter: '(uid={username})',
        nested_groups: true,
        start_tls: false,
      },
    });
    expect(body.config).not.toHaveProperty('issuer');
  }, 20_000);

  it('edits without sending the secret when it is left empty, and shows field errors under config', async () => {
    let attempt = 0;
    const seen = mockFetch({
      'GET /api/identity/providers/': () => json([provider()]),
      'GET /api/auth/csrf/': csrf,
      'PATCH /api/identity/providers/1/': () => {
        attempt += 1;
        return attempt === 1
          ? json(
              { detail: 'Invalid input.', code: 'invalid_provider_config', errors: { 'config.issuer': ['Enter a valid URL.'] } },
              { status: 400 },
            )
          : json(provider());
      },
    });
    renderAt(<ProvidersPage />, { queryClient: testQueryClient(adminUser) });
    const u = userEvent.setup();
    await u.click(await screen.findByTestId('edit-provider-corp'));
    const dialog = screen.getByTestId('provider-dialog');
    expect(within(dialog).getByRole('textbox', { name: 'Name' })).toBeDisabled();
    expect(within(dialog).getByRole('textbox', { name: /Scopes/ })).toHaveValue('openid groups');
    expect(within(dialog).getByLabelText('Client secret')).toHaveValue('');
    expect(within(dialog).getByTestId('redirect-uri')).toHaveTextContent(
      `Register this redirect URI with the provider: ${window.location.origin}/api/auth/oidc/corp/callback/`,
    );
    expect(within(dialog).getByTestId('secret-state')).toHaveTextContent('A secret is stored; leave the field empty to keep it unchanged.');
    const issuer = within(dialog).getByRole('textbox', { name: /Issuer URL/ });
    await u.clear(issuer);
    await fill(u, issuer, 'not a url');
    await u.click(within(dialog).getByTestId('provider-submit'));
    expect(await within(dialog).findByText('Enter a valid URL.')).toBeInTheDocument();
    const first = await seen.filter((r) => r.method === 'PATCH')[0]!.json();
    expect(first).not.toHaveProperty('secret');
    expect(first).not.toHaveProperty('name');
    expect(first.config).toMatchObject({ issuer: 'not a url', client_id: 'portal', scopes: ['openid', 'groups'] });

    // "Remove secret" sends "" — the only way the stored secret is cleared.
    await u.clear(issuer);
    await fill(u, issuer, 'https://id2.example');
    await u.click(within(dialog).getByTestId('secret-clear'));
    expect(within(dialog).getByTestId('secret-state')).toHaveTextContent('The stored secret will be removed.');
    await u.click(within(dialog).getByTestId('provider-submit'));
    await waitFor(() => expect(screen.queryByTestId('provider-dialog')).not.toBeInTheDocument());
    expect(await seen.filter((r) => r.method === 'PATCH')[1]!.json()).toMatchObject({ secret: '', config: { issuer: 'https://id2.example' } });
  }, 20_000);

  it('tests the connection and shows what it found, in Korean too', async () => {
    let ok = true;
    mockFetch({
      'GET /api/identity/providers/': () => json([provider()]),
      'GET /api/auth/csrf/': csrf,
      'POST /api/identity/providers/1/test/': () =>
        ok
          ? json({ ok: true, kind: 'oidc', message: 'Discovery and keys read.', details: { issuer: 'https://id.example', keys: 2 } })
          : json({ detail: 'The discovery document is not JSON.', code: 'upstream_error' }, { status: 502 }),
    });
    renderAt(<ProvidersPage />, { queryClient: testQueryClient(adminUser) });
    const u = userEvent.setup();
    await u.click(await screen.findByTestId('test-provider-corp'));
    const dialog = screen.getByTestId('test-dialog');
    expect(await within(dialog).findByTestId('test-outcome')).toHaveTextContent('Connected. Discovery and keys read.');
    const findings = within(dialog).getByTestId('test-findings');
    expect(findings).toHaveTextContent('issuerhttps://id.example');
    expect(findings).toHaveTextContent('keys2');
    expect(findings).not.toHaveTextContent('kind');

    ok = false;
    await i18n.changeLanguage('ko');
    try {
      await u.click(within(dialog).getByRole('button', { name: '다시 테스트' }));
      expect(await within(dialog).findByTestId('test-error')).toHaveTextContent(
        '포털이 가져오려던 외부 서비스가 잘못 응답했습니다 (The discovery document is not JSON.)',
      );
    } finally {
      await i18n.changeLanguage('en');
    }
  });

  it('deletes a provider after confirming', async () => {
    let gone = false;
    const seen = mockFetch({
      'GET /api/identity/providers/': () => json(gone ? [] : [provider()]),
      'GET /api/auth/csrf/': csrf,
      'DELETE /api/identity/providers/1/': () => {
        gone = true;
        return new Response(null, { status: 204 });
      },
    });
    renderAt(<ProvidersPage />, { queryClient: testQueryClient(adminUser) });
    const u = userEvent.setup();
    await u.click(await screen.findByTestId('delete-provider-corp'));
    const dialog = screen.getByTestId('delete-provider-dialog');
    await u.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect(await screen.findByText('No providers yet: only local accounts can sign in.')).toBeInTheDocument();
    expect(seen.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });
});
