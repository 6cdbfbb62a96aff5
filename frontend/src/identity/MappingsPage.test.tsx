import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { ROLES, workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { MappingsPage } from './MappingsPage';
import type { GroupMapping, PreviewUser } from './types';

const csrf = () => json({ csrfToken: 't' });
const corp = {
  id: 1, name: 'corp', display_name: 'Corp SSO', kind: 'oidc', enabled: true, config: {}, has_secret: true, identities: 2,
};

function mapping(id: number, overrides: Partial<GroupMapping>): GroupMapping {
  return { id, provider: 1, provider_name: 'corp', group: 'g', system_role: '', workspace: null, workspace_name: null, role: null, ...overrides };
}

describe('MappingsPage', () => {
  it('lists mappings, adds a workspace one by role key, and previews who gets what', async () => {
    const mappings: GroupMapping[] = [mapping(1, { group: 'platform-admins', system_role: 'admin' })];
    let preview: PreviewUser[] = [
      { user_id: 5, username: 'kim', groups: ['platform-admins'], system_role: 'admin', workspaces: [] },
      { user_id: 6, username: 'lee', groups: ['shop-devs'], system_role: '', workspaces: [] },
    ];
    const seen = mockFetch({
      'GET /api/identity/providers/1/': () => json(corp),
      'GET /api/identity/mappings/': () => json(mappings),
      'POST /api/identity/mappings/preview/': async (request) => {
        const body = (await request.json()) as { mappings?: unknown[] };
        if (!body.mappings) return json(preview);
        // the proposed rules: lee would be a developer in shop
        return json([preview[0], { ...preview[1], workspaces: [{ workspace: 7, workspace_name: 'shop', role: 'developer' }] }]);
      },
      'GET /api/workspaces/': () => json({ next: null, previous: null, results: [workspace(7, { name: 'shop', display_name: 'Shop' })] }),
      'GET /api/workspaces/roles/': () => json(ROLES),
      'GET /api/auth/csrf/': csrf,
      'POST /api/identity/mappings/': async (request) => {
        const body = (await request.json()) as { group: string; workspace: number; role: string };
        mappings.push(mapping(2, { group: body.group, workspace: body.workspace, workspace_name: 'shop', role: body.role }));
        preview = [preview[0]!, { ...preview[1]!, workspaces: [{ workspace: 7, workspace_name: 'shop', role: 'developer' }] }];
        return json(mappings[1], { status: 201 });
      },
    });
    renderAt(<MappingsPage />, { route: '/admin/identity/1', path: '/admin/identity/:id', queryClient: testQueryClient(adminUser) });
    expect(await screen.findByRole('heading', { name: 'Group mappings: Corp SSO' })).toBeInTheDocument();
    expect(await screen.findByTestId('mapping-row-1')).toHaveTextContent('platform-adminsSystem role: System admin');
    const previewCard = screen.getByTestId('mapping-preview');
    expect(await within(previewCard).findByTestId('preview-summary')).toHaveTextContent('Known users of this provider: 2.');
    expect(within(previewCard).getByTestId('preview-row-kim')).toHaveTextContent('System role: System admin');
    expect(within(previewCard).getByTestId('preview-row-lee')).toHaveTextContent('No role from the mappings');
    expect(new URL(seen.find((r) => r.url.includes('/mappings/?'))!.url).searchParams.get('provider')).toBe('1');

    const u = userEvent.setup();
    const form = screen.getByTestId('add-mapping');
    await u.type(within(form).getByRole('textbox', { name: 'Group' }), 'shop-devs');
    await u.click(within(form).getByRole('radio', { name: 'a role in a workspace' }));
    expect(within(form).getByTestId('add-mapping-submit')).toBeDisabled();
    await u.selectOptions(within(form).getByRole('combobox', { name: 'Workspace' }), 'Shop');
    await u.selectOptions(within(form).getByRole('combobox', { name: 'Workspace role' }), 'Developer');

    // Preview before saving: the stored rules plus the proposed one, nothing saved.
    await u.click(within(form).getByTestId('preview-mapping'));
    expect(await within(previewCard).findByRole('heading', { name: 'Preview with the new mapping for shop-devs (not saved)' })).toBeInTheDocument();
    await waitFor(() => expect(within(previewCard).getByTestId('preview-row-lee')).toHaveTextContent('shop: Developer'));
    const proposed = seen.filter((r) => new URL(r.url).pathname === '/api/identity/mappings/preview/').at(-1)!;
    expect(await proposed.json()).toEqual({
      provider: 1,
      mappings: [
        { group: 'platform-admins', system_role: 'admin' },
        { group: 'shop-devs', workspace: 7, role: 'developer' },
      ],
    });
    expect(seen.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/identity/mappings/')).toHaveLength(0);
    await u.click(within(previewCard).getByTestId('preview-back'));
    await waitFor(() => expect(within(previewCard).getByTestId('preview-row-lee')).toHaveTextContent('No role from the mappings'));

    await u.click(within(form).getByTestId('add-mapping-submit'));
    expect(await screen.findByTestId('mapping-row-2')).toHaveTextContent('shop-devsshop: Developer');
    await waitFor(() => expect(within(previewCard).getByTestId('preview-row-lee')).toHaveTextContent('shop: Developer'));
    const post = seen.find((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/identity/mappings/')!;
    expect(await post.json()).toEqual({ provider: 1, group: 'shop-devs', workspace: 7, role: 'developer' });
    const previewPost = seen.find((r) => new URL(r.url).pathname === '/api/identity/mappings/preview/')!;
    expect(await previewPost.json()).toEqual({ provider: 1 });
  }, 20_000);

  it('adds a system-role mapping, shows a refusal, and removes a mapping', async () => {
    let mappings: GroupMapping[] = [mapping(1, { group: 'ops', system_role: 'operator' })];
    const seen = mockFetch({
      'GET /api/identity/providers/1/': () => json(corp),
      'GET /api/identity/mappings/': () => json(mappings),
      'POST /api/identity/mappings/preview/': () => json([]),
      'GET /api/workspaces/': () => json({ next: null, previous: null, results: [] }),
      'GET /api/workspaces/roles/': () => json(ROLES),
      'GET /api/auth/csrf/': csrf,
      'POST /api/identity/mappings/': () =>
        json({ detail: 'This group already maps to that role.', code: 'mapping_exists' }, { status: 400 }),
      'DELETE /api/identity/mappings/1/': () => {
        mappings = [];
        return new Response(null, { status: 204 });
      },
    });
    renderAt(<MappingsPage />, { route: '/admin/identity/1', path: '/admin/identity/:id', queryClient: testQueryClient(adminUser) });
    const u = userEvent.setup();
    const form = await screen.findByTestId('add-mapping');
    await u.type(within(form).getByRole('textbox', { name: 'Group' }), 'ops');
    await u.selectOptions(within(form).getByRole('combobox', { name: 'Role' }), 'operator');
    await u.click(within(form).getByTestId('add-mapping-submit'));
    expect(await within(form).findByTestId('mapping-error')).toHaveTextContent('This group already maps to that role.');
    const post = seen.find((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/identity/mappings/')!;
    expect(await post.json()).toEqual({ provider: 1, group: 'ops', system_role: 'operator' });

    await u.click(await screen.findByTestId('delete-mapping-1'));
    expect(await screen.findByText(/No mappings/)).toBeInTheDocument();
    expect(await screen.findByTestId('preview-summary')).toHaveTextContent('No one has signed in through this provider yet');
  });
});
