import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { cluster, page } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ClustersPage } from './ClustersPage';

describe('the cluster list points at what needs a look (issue 22)', () => {
  it('shows not-ready nodes and crash-looping or pending pods as links to the filtered lists, and a legend', async () => {
    const busan = cluster(2, { name: 'busan-staging' });
    const health = { nodes_not_ready: 1, pods_crashlooping: 1, pods_pending: 0 };
    mockFetch({
      'GET /api/clusters/': () =>
        json(page([cluster(1, { name: 'seoul', summary: { ...cluster(1).summary, health: { nodes_not_ready: 0, pods_crashlooping: 0, pods_pending: 0 } } as never }), { ...busan, summary: { ...busan.summary, health } as never }])),
    });
    renderAt(<ClustersPage />, { queryClient: testQueryClient(adminUser) });
    const row = await screen.findByTestId('cluster-row-busan-staging');
    expect(within(row).getByTestId('health-nodes')).toHaveAttribute('href', '/clusters/2/nodes');
    expect(within(row).getByTestId('health-nodes')).toHaveTextContent('Nodes not ready: 1');
    expect(within(row).getByTestId('health-crash')).toHaveAttribute('href', '/clusters/2/pods?ordering=-restarts');
    expect(within(row).queryByTestId('health-pending')).not.toBeInTheDocument();
    expect(within(screen.getByTestId('cluster-row-seoul')).getByTestId('health-ok')).toBeInTheDocument();
    expect(screen.getByTestId('clusters-legend')).toHaveTextContent('capacity / allocatable / requested');
  });
});
