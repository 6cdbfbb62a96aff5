import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { page } from '../test/clusters';
import { release } from '../test/catalog';
import { serviceMap, workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { tableViewsHandler } from '../components/table/testing';
import { ServiceMapDetailPage } from '../workspaces/ServiceMapDetailPage';

describe('service map Releases tab', () => {
  it('lists the releases of that service map', async () => {
    const seen = mockFetch({
      'GET /api/workspaces/1/': () => json(workspace(1)),
      'GET /api/workspaces/1/servicemaps/7/': () => json(serviceMap(7)),
      'GET /api/catalog/releases/': () => json(page([release(4, { status: 'failed', message: 'Revision 2 failed' })])),
      ...tableViewsHandler(),
    });
    renderAt(<ServiceMapDetailPage />, {
      route: '/workspaces/1/servicemaps/7/releases',
      path: '/workspaces/:id/servicemaps/:sid/:tab?',
      queryClient: testQueryClient(adminUser),
    });
    const row = await screen.findByTestId('release-row-shop-seoul-prod');
    expect(row.querySelector('[data-status]')).toHaveAttribute('data-status', 'failed');
    expect(within(row).getByTestId('release-link')).toHaveAttribute('href', '/releases/4');
    expect(screen.getByTestId('tab-releases')).toHaveAttribute('aria-current', 'page');
    const list = seen.find((r) => r.url.includes('/api/catalog/releases/'))!;
    expect(new URL(list.url).searchParams.get('service_map')).toBe('7');
  });
});
