import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { ApiToken } from '../api/types';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { TokensPage } from './TokensPage';

const existing: ApiToken = {
  id: 1,
  name: 'laptop',
  prefix: 'pt_ab12',
  created: '2026-01-02T03:04:05Z',
  expires: null,
  last_used: null,
};

describe('TokensPage', () => {
  it('shows a newly created token once, then only its prefix', async () => {
    const tokens: ApiToken[] = [existing];
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'csrf-1' }),
      'GET /api/auth/tokens/': () => json({ next: null, previous: null, results: tokens }),
      'POST /api/auth/tokens/': async (req) => {
        const body = (await req.json()) as { name: string; expires_in_days: number | null };
        const created = { id: 2, name: body.name, prefix: 'pt_cd34', created: '2026-02-01T00:00:00Z', expires: '2026-03-03T00:00:00Z', last_used: null };
        tokens.push(created);
        return json({ ...created, token: 'pt_cd34.s3cr3t-value' }, { status: 201 });
      },
    });
    const queryClient = testQueryClient(adminUser);
    renderAt(<TokensPage />, { queryClient });
    expect(await screen.findByText('laptop')).toBeInTheDocument();

    const user = userEvent.setup();
    await user.type(screen.getByRole('textbox', { name: 'Name' }), 'ci-deploy');
    await user.selectOptions(screen.getByRole('combobox', { name: 'Expires in' }), '30');
    await user.click(screen.getByRole('button', { name: 'Create token' }));

    const dialog = await screen.findByTestId('token-created-dialog');
    expect(within(dialog).getByTestId('new-token-value')).toHaveValue('pt_cd34.s3cr3t-value');
    expect(dialog).toHaveTextContent('It will not be shown again');
    await user.click(within(dialog).getByTestId('copy-token'));
    expect(await navigator.clipboard.readText()).toBe('pt_cd34.s3cr3t-value');
    expect(within(dialog).getByTestId('copy-token')).toHaveTextContent('Copied');

    const post = seen.find((r) => r.method === 'POST');
    expect(await post?.json()).toEqual({ name: 'ci-deploy', expires_in_days: 30 });
    expect(post?.headers.get('X-CSRFToken')).toBe('csrf-1');

    await user.click(within(dialog).getByRole('button', { name: 'I have copied it' }));
    expect(screen.queryByTestId('token-created-dialog')).not.toBeInTheDocument();
    // The list is refreshed and shows the new token by name and prefix only.
    expect(await screen.findByText('ci-deploy')).toBeInTheDocument();
    expect(screen.queryByDisplayValue('pt_cd34.s3cr3t-value')).not.toBeInTheDocument();
    expect(document.body.textContent).not.toContain('s3cr3t');
    // ...and the secret was never written to the query cache.
    const cached = JSON.stringify(queryClient.getQueryCache().getAll().map((q) => q.state.data));
    expect(cached).not.toContain('s3cr3t');
  });

  it('sends null expiry for "never" and shows field errors from the server', async () => {
    mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'csrf-1' }),
      'GET /api/auth/tokens/': () => json({ next: null, previous: null, results: [] }),
      'POST /api/auth/tokens/': async (req) => {
        expect(await req.json()).toEqual({ name: 'dup', expires_in_days: null });
        return json({ detail: 'Invalid input.', errors: { name: ['You already have a token with this name.'] } }, { status: 400 });
      },
    });
    renderAt(<TokensPage />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByText('You have no API tokens.')).toBeInTheDocument();
    const user = userEvent.setup();
    await user.type(screen.getByRole('textbox', { name: 'Name' }), 'dup');
    await user.selectOptions(screen.getByRole('combobox', { name: 'Expires in' }), 'never');
    await user.click(screen.getByRole('button', { name: 'Create token' }));
    await waitFor(() =>
      expect(screen.getByRole('textbox', { name: 'Name' })).toHaveAccessibleDescription('You already have a token with this name.'),
    );
  });

  it('revokes a token after confirmation', async () => {
    let tokens: ApiToken[] = [existing];
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'csrf-1' }),
      'GET /api/auth/tokens/': () => json({ next: null, previous: null, results: tokens }),
      'DELETE /api/auth/tokens/1/': () => {
        tokens = [];
        return new Response(null, { status: 204 });
      },
    });
    renderAt(<TokensPage />, { queryClient: testQueryClient(adminUser) });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Revoke' }));
    const dialog = screen.getByTestId('confirm-dialog');
    expect(dialog).toHaveTextContent('Revoke the token "laptop"?');
    expect(seen.some((r) => r.method === 'DELETE')).toBe(false);
    await user.click(within(dialog).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(screen.queryByTestId('confirm-dialog')).not.toBeInTheDocument());
    expect(await screen.findByText('You have no API tokens.')).toBeInTheDocument();
  });
});
