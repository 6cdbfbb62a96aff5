import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page } from '../test/clusters';
import { serviceMap, workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ServiceMapsPage } from './ServiceMapsPage';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

describe('ServiceMapsPage', () => {
  it('lists every visible service map with its workspace and filters by workspace', async () => {
    const seen = mockFetch({
      'GET /api/workspaces/servicemaps/': (r) =>
        json(page(new URL(r.url).searchParams.get('workspace') === '2' ? [] : [serviceMap(7), serviceMap(8, { status: 'pending', in_sync: false })])),
      'GET /api/workspaces/': () => json(page([workspace(1), workspace(2)])),
    });
    renderAt(<ServiceMapsPage />, { route: '/servicemaps', queryClient: testQueryClient(dev) });
    const row = await screen.findByTestId('servicemap-row-shop-7');
    expect(row).toHaveTextContent('team-1');
    expect(within(row).getByTestId('servicemap-link')).toHaveAttribute('href', '/workspaces/1/servicemaps/7');
    expect(within(row).getByTestId('cell-pods')).toHaveTextContent('4/5');
    expect(within(screen.getByTestId('servicemap-row-shop-8')).getByTestId('not-in-sync')).toBeInTheDocument();
    await userEvent.setup().selectOptions(within(screen.getByTestId('servicemaps-filters')).getByRole('combobox', { name: 'Workspace' }), '2');
    expect(await screen.findByTestId('servicemaps-empty')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/servicemaps?workspace=2'));
    const last = seen.filter((r) => r.url.includes('/api/workspaces/servicemaps/')).at(-1)!;
    expect(new URL(last.url).searchParams.get('workspace')).toBe('2');
    expect(new URL(last.url).searchParams.has('cluster')).toBe(false);
  });
});
