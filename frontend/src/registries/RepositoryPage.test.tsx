import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page } from '../test/clusters';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { allocationPrefix, underPrefix } from './permissions';
import { RegistriesRoutes } from './RegistriesRoutes';
import { DIGEST, registry, tag } from './testData';

const dev: User = { ...adminUser, id: 4, username: 'devon', role: 'user', is_admin: false };
const HOST = '127.0.0.1:55000';

function handlers(allowDelete: boolean, tags: () => ReturnType<typeof tag>[]) {
  return {
    'GET /api/builds/registries/': () => json([registry(1, { name: 'builtin', builtin: true, host: HOST, allow_delete: allowDelete, prefixes: ['team-1'] })]),
    'GET /api/workspaces/': () => json(page([workspace(1, { my_grants: ['builds.run', 'workloads.deploy'] }), workspace(2, { my_grants: ['builds.run'] })])),
    'GET /api/workspaces/1/registries/': () => json([{ id: 4, registry: `${HOST}/team-1`, description: '', created: '2026-11-01T00:00:00Z' }]),
    'GET /api/workspaces/2/registries/': () => json([]),
    'GET /api/builds/registries/1/tags/': (r: Request) =>
      json({ repository: new URL(r.url).searchParams.get('repository'), image: `${HOST}/team-1/web`, results: tags(), truncated: false }),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
  };
}

describe('allocations and prefixes', () => {
  it('reads an allocation as builds/access.py does', () => {
    expect(allocationPrefix(`${HOST}/team-1/`, HOST)).toBe('team-1');
    expect(allocationPrefix(HOST, HOST)).toBe('');
    expect(allocationPrefix('other.example.com/team-1', HOST)).toBeNull();
    expect(underPrefix('team-1/web', 'team-1')).toBe(true);
    expect(underPrefix('team-10/web', 'team-1')).toBe(false);
    expect(underPrefix('anything', '')).toBe(true);
  });
});

describe('RepositoryPage', () => {
  it('shows a member the tags, the findings, and deletes a tag of a repository their workspace owns', async () => {
    let rows = [tag('v1', { scan: { counts: { HIGH: 1 }, scanned: '2026-12-01T09:31:00Z' } }), tag('v2', { digest: 'sha256:ffff' })];
    const seen = mockFetch({
      ...handlers(true, () => rows),
      'GET /api/builds/scans/': () =>
        json({
          registry: 1,
          repository: 'team-1/web',
          digest: DIGEST,
          counts: { HIGH: 1 },
          findings: [{ id: 'CVE-2024-1111', severity: 'HIGH', package: 'libc', version: '2.36', fixed_version: '2.36-9', title: 'Overflow' }],
          scanned: '2026-12-01T09:31:00Z',
          run: 3,
        }),
      'DELETE /api/builds/registries/1/tags/': () => {
        rows = rows.filter((r) => r.tag !== 'v2');
        return new Response(null, { status: 204 });
      },
    });
    renderAt(<RegistriesRoutes />, { route: '/registries/1/repositories/team-1/web', path: '/registries/*', queryClient: testQueryClient(dev) });
    const v1 = await screen.findByTestId('tag-row-v1');
    const tagsCall = seen.find((r) => r.url.includes('/tags/'))!;
    expect(new URL(tagsCall.url).searchParams.get('repository')).toBe('team-1/web');
    await waitFor(() => expect(within(v1).getByTestId('delete-tag-v1')).toBeInTheDocument());
    expect(within(v1).getByTestId('deploy-tag-v1')).toBeInTheDocument();

    const user = userEvent.setup();
    await user.click(within(v1).getByTestId('findings-v1'));
    const drawer = await screen.findByTestId('findings-drawer');
    expect(await within(drawer).findByTestId('finding-CVE-2024-1111')).toHaveTextContent('2.36-9');
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('findings-drawer')).not.toBeInTheDocument();

    await user.click(screen.getByTestId('delete-tag-v2'));
    await user.click(screen.getByTestId('confirm-delete-tag'));
    await waitFor(() => expect(screen.queryByTestId('tag-row-v2')).not.toBeInTheDocument());
    const del = new URL(seen.find((r) => r.method === 'DELETE')!.url);
    expect([del.searchParams.get('repository'), del.searchParams.get('tag')]).toEqual(['team-1/web', 'v2']);
  });

  it('hides delete where the registry does not allow it, or where no workspace of the caller owns the repository', async () => {
    mockFetch(handlers(false, () => [tag('v1')]));
    const { unmount } = renderAt(<RegistriesRoutes />, { route: '/registries/1/repositories/team-1/web', path: '/registries/*', queryClient: testQueryClient(dev) });
    expect(await screen.findByTestId('tag-row-v1')).toBeInTheDocument();
    expect(screen.getByText('Deleting tags is turned off for this registry.')).toBeInTheDocument();
    expect(screen.queryByTestId('delete-tag-v1')).not.toBeInTheDocument();
    unmount();

    const seen = mockFetch(handlers(true, () => [tag('v1')]));
    renderAt(<RegistriesRoutes />, { route: '/registries/1/repositories/team-2/api', path: '/registries/*', queryClient: testQueryClient(dev) });
    expect(await screen.findByTestId('tag-row-v1')).toBeInTheDocument();
    // both workspaces' allocations were read: neither holds team-2/api (workspace 2 holds nothing here)
    await waitFor(() => expect(seen.filter((r) => /\/api\/workspaces\/\d+\/registries\/$/.test(new URL(r.url).pathname))).toHaveLength(2));
    expect(await screen.findByTestId('deploy-tag-v1')).toBeInTheDocument();
    expect(screen.queryByTestId('delete-tag-v1')).not.toBeInTheDocument();
  });
});
