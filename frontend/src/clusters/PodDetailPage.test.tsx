import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { clusterDetail, podRow } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { PodDetailPage } from './PodDetailPage';
import { inventoryKey } from './queries';

const path = '/clusters/:id/pods/:namespace/:name';

describe('PodDetailPage', () => {
  it('shows the projection, containers, the pod events and the live object as YAML', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/pods/web/web-1/': () =>
        json({
          ...podRow('web', 'web-1', {}, { status_text: 'CrashLoopBackOff', restarts: 7 }),
          object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'web' } },
        }),
      'GET /api/clusters/1/events/': () =>
        json({ next: null, previous: null, freshness: { state: 'synced', last_event: null }, results: [
          { ...podRow('web', 'web-1.1'), kind: 'Event', phase: 'Warning', data: { type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container', involved: { kind: 'Pod', name: 'web-1', namespace: 'web' }, count: 7, first_seen: null, last_seen: null, source: 'kubelet' } },
        ] }),
    });
    renderAt(<PodDetailPage />, { route: '/clusters/1/pods/web/web-1', path, queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('pod-status')).toHaveTextContent('CrashLoopBackOff');
    expect(screen.getByTestId('container-app')).toHaveTextContent('nginx:1.27');
    expect(screen.getByTestId('pod-object')).toHaveTextContent('kind: Pod');
    expect(screen.getByTestId('object-actions-Pod-web-web-1')).toBeInTheDocument(); // the actions menu (src/objects)
    expect(await screen.findByTestId('event-row-Warning')).toHaveTextContent('Back-off restarting failed container');
    const events = new URL(seen.find((r) => r.url.includes('/events/'))!.url).searchParams;
    expect(Object.fromEntries(events)).toMatchObject({ namespace: 'web', involved_kind: 'Pod', involved_name: 'web-1' });
  });

  it('falls back to the last known row when the cluster does not answer', async () => {
    mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/pods/web/web-1/': () =>
        json({ detail: 'The cluster did not answer within 10 s.', code: 'cluster_timeout' }, { status: 503 }),
      'GET /api/clusters/1/events/': () => json({ next: null, previous: null, results: [] }),
    });
    const queryClient = testQueryClient(adminUser);
    queryClient.setQueryData(inventoryKey(1, 'pods', {}), {
      pages: [{ next: null, previous: null, results: [podRow('web', 'web-1', {}, { status_text: 'Running' })] }],
      pageParams: [null],
    });
    renderAt(<PodDetailPage />, { route: '/clusters/1/pods/web/web-1', path, queryClient });
    expect(await screen.findByTestId('pod-stale')).toHaveTextContent('The cluster did not answer within 10 s.');
    expect(screen.getByTestId('pod-status')).toHaveTextContent('Running');
    expect(screen.queryByTestId('pod-object')).not.toBeInTheDocument();
  });
});
