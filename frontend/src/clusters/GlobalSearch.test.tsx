import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { podRow } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { GlobalSearch, hitPath } from './GlobalSearch';

const hit = (cluster: number, clusterName: string, kind: string, namespace: string, name: string) => ({
  ...podRow(namespace, name),
  cluster,
  kind,
  cluster_name: clusterName,
});

describe('GlobalSearch', () => {
  it('searches across clusters and groups the hits by cluster and kind, linking to the pages', async () => {
    const seen = mockFetch({
      'GET /api/clusters/search/': () =>
        json({
          next: null,
          previous: null,
          results: [
            hit(1, 'seoul-prod', 'Pod', 'web', 'web-7d9f-abc'),
            hit(1, 'seoul-prod', 'Deployment', 'web', 'web'),
            hit(2, 'busan-dev', 'Service', 'web', 'web'),
            hit(1, 'seoul-prod', 'Pod', 'web', 'web-7d9f-def'),
          ],
        }),
    });
    renderAt(<GlobalSearch />, { queryClient: testQueryClient(adminUser) });
    const user = userEvent.setup();
    await user.type(screen.getByTestId('global-search'), 'web');
    const results = await screen.findByTestId('search-results');
    await waitFor(() => expect(within(results).getAllByTestId('search-hit')).toHaveLength(4));
    expect(new URL(seen.at(-1)!.url).searchParams.get('q')).toBe('web');
    const seoul = within(results).getByTestId('search-cluster-1');
    expect(seoul).toHaveTextContent('seoul-prod');
    expect(seoul.textContent).toMatch(/Pod.*web-7d9f-abc.*web-7d9f-def.*Deployment/);
    expect(within(results).getByTestId('search-cluster-2')).toHaveTextContent('busan-dev');
    expect(within(seoul).getByRole('link', { name: /web-7d9f-abc/ })).toHaveAttribute('href', '/clusters/1/pods/web/web-7d9f-abc');

    await user.clear(screen.getByTestId('global-search'));
    await user.type(screen.getByTestId('global-search'), 'app=web');
    await waitFor(() => expect(new URL(seen.at(-1)!.url).searchParams.get('label_selector')).toBe('app=web'));
  });

  it('links workloads and services to their filtered tabs', () => {
    expect(hitPath(hit(3, 'x', 'StatefulSet', 'db', 'pg'))).toBe('/clusters/3/workloads?kind=StatefulSet&namespace=db&q=pg');
    expect(hitPath(hit(3, 'x', 'Service', 'db', 'pg'))).toBe('/clusters/3/services?namespace=db&q=pg');
  });
});
