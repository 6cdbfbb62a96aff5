import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { clusterDetail, nodeRow, podRow } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { patchInventory } from './live';
import { containerStateText, PodDetailPage } from './PodDetailPage';
import type { ContainerStatus } from './types';

const now = Date.parse('2026-11-21T10:00:00Z');
const crashing = (state: string, reason: string, finishedAgoMs: number): ContainerStatus => ({
  name: 'app', image: 'x', ready: false, restart_count: 220, state, reason, last_reason: 'Error', last_finished: new Date(now - finishedAgoMs).toISOString(),
});

describe('issue 22: pod and node figures that read wrong', () => {
  it('a crash-looping container reads CrashLoopBackOff also while it runs for a moment', () => {
    expect(containerStateText(crashing('waiting', 'CrashLoopBackOff', 5_000), now)).toBe('CrashLoopBackOff');
    expect(containerStateText(crashing('running', '', 20_000), now)).toBe('CrashLoopBackOff');
    // Running for more than the kubelet's back-off reset (10 min): running again.
    expect(containerStateText(crashing('running', '', 11 * 60_000), now)).toBe('running');
    expect(containerStateText({ ...crashing('running', '', 1_000), restart_count: 0, last_reason: '' }, now)).toBe('running');
  });

  it('keeps a node row’s requests and pod count when a socket row (without them) replaces it', () => {
    const before = { pages: [{ next: null, previous: null, results: [nodeRow('node-1')] }], pageParams: [null] };
    const { requests: _r, pod_count: _p, ...socketRow } = nodeRow('node-1', { unschedulable: true });
    const after = patchInventory(before as never, {}, [socketRow as never], []);
    const row = after!.pages[0]!.results[0] as ReturnType<typeof nodeRow>;
    expect(row.data.unschedulable).toBe(true);
    expect(row.requests).toEqual({ cpu: 2, memory: 4294967296 });
    expect(row.pod_count).toBe(12);
  });

  it('shows "no limit" for a container without a CPU limit, not 0 CPU; the owner wraps', async () => {
    mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/pods/web/web-1/': () =>
        json({
          ...podRow('web', 'web-1', {}, { limits: { cpu: 0, memory: 268435456 }, owner: { kind: 'ReplicaSet', name: 'a-very-long-owner-name-'.repeat(4) } }),
          object: { apiVersion: 'v1', kind: 'Pod', spec: { containers: [{ name: 'app', resources: { limits: { memory: '256Mi' } } }] } },
        }),
      'GET /api/clusters/1/events/': () => json({ next: null, previous: null, results: [] }),
    });
    renderAt(<PodDetailPage />, { route: '/clusters/1/pods/web/web-1', path: '/clusters/:id/pods/:namespace/:name', queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('pod-limit-cpu')).toHaveTextContent('CPU no limit');
    expect(screen.getByTestId('pod-limit-memory')).toHaveTextContent('256 MiB');
    expect(screen.getByTestId('pod-owner')).toHaveClass('wrap-any');
    expect(within(screen.getByTestId('containers-table')).getByText('running')).toBeInTheDocument();
  });
});
