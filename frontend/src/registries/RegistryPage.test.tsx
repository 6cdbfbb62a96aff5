import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { RegistriesRoutes } from './RegistriesRoutes';
import { registry } from './testData';

const dev: User = { ...adminUser, id: 4, username: 'devon', role: 'user', is_admin: false };

describe('RegistryPage', () => {
  it('lists the repositories the caller holds, searches on the server, and links each to its tags', async () => {
    const seen = mockFetch({
      'GET /api/builds/registries/': () => json([registry(1, { name: 'builtin', host: '127.0.0.1:55000', prefixes: ['team-1'] })]),
      'GET /api/builds/registries/1/repositories/': (r) => {
        const search = new URL(r.url).searchParams.get('search') ?? '';
        const names = ['team-1/api', 'team-1/web'].filter((n) => n.includes(search));
        return json({ results: names.map((name) => ({ name })), truncated: search === '' });
      },
    });
    renderAt(<RegistriesRoutes />, { route: '/registries/1', path: '/registries/*', queryClient: testQueryClient(dev) });
    expect(await screen.findByTestId('open-repository-team-1/web')).toHaveAttribute('href', '/registries/1/repositories/team-1/web');
    expect(screen.getByTestId('my-prefixes')).toHaveTextContent('team-1/…');
    expect(screen.getByTestId('repositories-truncated')).toBeInTheDocument();

    await userEvent.setup().type(screen.getByTestId('repository-search'), 'web');
    await waitFor(() => expect(screen.queryByTestId('open-repository-team-1/api')).not.toBeInTheDocument());
    expect(screen.getByTestId('open-repository-team-1/web')).toBeInTheDocument();
    const searches = seen.map((r) => new URL(r.url).searchParams.get('search')).filter((s) => s !== null);
    expect(searches).toEqual(['web']); // debounced: one request for the typed word, none per keystroke
  });
});
