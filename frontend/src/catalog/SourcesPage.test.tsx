import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page } from '../test/clusters';
import { source, version } from '../test/catalog';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { SourcesPage } from './SourcesPage';

const manager: User = { ...adminUser, id: 3, username: 'mia', role: 'user', is_admin: false };

describe('SourcesPage', () => {
  it('lists sources with status and errors; a workspace manager manages only their workspace’s sources', async () => {
    const seen = mockFetch({
      'GET /api/catalog/sources/': () =>
        json(
          page([
            source(1, { name: 'bitnami' }),
            source(2, { name: 'team-repo', workspace: { id: 1, name: 'team-1' }, status: 'error', message: 'index.yaml: 404 Not Found' }),
            source(3, { name: 'team-uploads', kind: 'upload', url: '', workspace: { id: 1, name: 'team-1' } }),
          ]),
        ),
      'GET /api/workspaces/': () => json(page([workspace(1, { my_role: 'manager', my_grants: ['servicemaps.manage'] })])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/catalog/sources/2/webhook-token/': () => json({ token: 'tok-123', url: 'http://portal/api/catalog/hooks/tok-123/' }, { status: 201 }),
      'POST /api/catalog/sources/2/refresh/': () => json(source(2, { status: 'refreshing' }), { status: 202 }),
      'POST /api/catalog/sources/3/charts/': () => json(version(12, { package: { id: 5, name: 'shop' }, version: '1.0.0' }), { status: 201 }),
      'POST /api/catalog/sources/': () => json({ detail: 'Invalid input.', errors: { url: ['Repository URLs must be https://.'] } }, { status: 400 }),
    });
    renderAt(<SourcesPage />, { route: '/catalog/sources', queryClient: testQueryClient(manager) });
    const repo = await screen.findByTestId('source-row-team-repo');
    expect(repo).toHaveAttribute('data-status', 'error');
    expect(within(repo).getByTestId('source-message')).toHaveTextContent('404 Not Found');
    const shared = screen.getByTestId('source-row-bitnami');
    await waitFor(() => expect(within(repo).getByTestId('refresh-source-team-repo')).toBeInTheDocument());
    expect(within(shared).queryByTestId('refresh-source-bitnami')).not.toBeInTheDocument(); // shared: admins only

    const user = userEvent.setup();
    await user.click(within(repo).getByTestId('webhook-token-team-repo'));
    const dialog = await screen.findByTestId('webhook-token-dialog');
    expect(within(dialog).getByTestId('webhook-token-value')).toHaveTextContent('tok-123');
    await user.click(within(dialog).getByRole('button', { name: 'Close' }));
    expect(screen.queryByText('tok-123')).not.toBeInTheDocument();
    await user.click(within(repo).getByTestId('refresh-source-team-repo'));
    await waitFor(() => expect(seen.some((r) => r.url.endsWith('/sources/2/refresh/'))).toBe(true));

    const file = new File([new Uint8Array([31, 139, 8])], 'shop-1.0.0.tgz', { type: 'application/gzip' });
    await user.upload(screen.getByTestId('upload-chart-team-uploads'), file);
    expect(await screen.findByTestId('upload-result')).toHaveTextContent('shop 1.0.0');
    const upload = seen.find((r) => r.url.endsWith('/charts/'))!;
    expect(upload.headers.get('X-CSRFToken')).toBe('t');
    expect((await upload.formData()).get('chart')).not.toBeNull(); // multipart, field `chart`

    await user.click(screen.getByTestId('add-source'));
    const add = screen.getByTestId('add-source-dialog');
    expect(within(add).queryByRole('option', { name: /Shared/ })).not.toBeInTheDocument(); // not an admin
    await user.type(within(add).getByRole('textbox', { name: 'Name' }), 'more');
    await user.type(within(add).getByRole('textbox', { name: 'Repository URL' }), 'http://charts.local');
    await user.click(screen.getByTestId('add-source-submit'));
    await waitFor(() => expect(within(add).getByRole('textbox', { name: 'Repository URL' })).toHaveAttribute('aria-invalid', 'true'));
    const create = seen.find((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/catalog/sources/')!;
    expect(await create.json()).toMatchObject({ name: 'more', kind: 'helm', workspace: 1, url: 'http://charts.local', refresh_minutes: 60 });
  });
});
