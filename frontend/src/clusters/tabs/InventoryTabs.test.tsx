import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { tableViewsHandler } from '../../components/table/testing';
import { podRow } from '../../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../../test/utils';
import { PodsTab } from './PodsTab';
import { WorkloadsTab, workloadParams } from './SimpleTabs';

const fresh = { freshness: { state: 'synced', last_event: null } };

function workload(kind: string, name: string, phase: string, owner: { kind: string; name: string } | null = null) {
  return { ...podRow('web', name), kind, phase, data: { replicas: 0, ready_replicas: 0, images: [], selector: {}, owner } };
}

const lastList = (seen: Request[], path: string) => new URL(seen.filter((r) => r.url.includes(path)).at(-1)!.url);

describe('workloads tab', () => {
  it("hides a Deployment's ReplicaSets until they are asked for, and shows an old revision as such", async () => {
    const seen = mockFetch({
      ...tableViewsHandler(),
      'GET /api/clusters/1/workloads/': (request) => {
        const all = new URL(request.url).searchParams.get('top_level') !== 'true';
        const rows = [workload('Deployment', 'web', 'Available')];
        if (all) rows.push(workload('ReplicaSet', 'web-old', 'Superseded', { kind: 'Deployment', name: 'web' }));
        return json({ next: null, previous: null, results: rows, ...fresh });
      },
    });
    const user = userEvent.setup();
    renderAt(<WorkloadsTab clusterId={1} />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('workload-row-Deployment-web-web');
    expect(lastList(seen, '/workloads/').searchParams.get('top_level')).toBe('true');
    expect(screen.queryByTestId('workload-row-ReplicaSet-web-web-old')).not.toBeInTheDocument();

    const toggle = screen.getByTestId('show-replicasets');
    expect(toggle).not.toBeChecked();
    await user.click(toggle);
    const old = await screen.findByTestId('workload-row-ReplicaSet-web-web-old');
    expect(lastList(seen, '/workloads/').searchParams.has('top_level')).toBe(false);
    // Not "Progressing": the scaled-down ReplicaSet of a rollout reads as an old revision.
    expect(within(old).getByText('Old revision')).toHaveAttribute('data-phase', 'Superseded');
    expect(old).not.toHaveTextContent('Progressing');
  });

  it('sorts on the server by the header clicked, and shows ReplicaSets when that kind is asked for', async () => {
    const seen = mockFetch({
      ...tableViewsHandler(),
      'GET /api/clusters/1/workloads/': () => json({ next: null, previous: null, results: [workload('Deployment', 'web', 'Available')], ...fresh }),
    });
    const user = userEvent.setup();
    renderAt(<WorkloadsTab clusterId={1} />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('workload-row-Deployment-web-web');
    const header = screen.getByTestId('sort-name');
    await user.click(header);
    await waitFor(() => expect(lastList(seen, '/workloads/').searchParams.get('ordering')).toBe('name'));
    expect(header.closest('th')).toHaveAttribute('aria-sort', 'ascending');
    await user.click(screen.getByTestId('sort-name'));
    await waitFor(() => expect(lastList(seen, '/workloads/').searchParams.get('ordering')).toBe('-name'));
    expect(workloadParams({ namespace: '', q: '', kind: 'ReplicaSet', ordering: '', controlled: '' })).not.toHaveProperty('top_level');
    expect(workloadParams({ namespace: 'a', q: '', kind: '', ordering: 'kind', controlled: '' })).toMatchObject({ top_level: 'true', ordering: 'kind' });
  });
});

describe('pods tab', () => {
  it('pages with the cursor as the table asks for more, and sorts by restarts on the server', async () => {
    const page = (from: number, next: string | null) =>
      json({ next, previous: null, results: Array.from({ length: 30 }, (_, i) => podRow('web', `web-${String(from + i).padStart(3, '0')}`)), ...fresh });
    const seen = mockFetch({
      ...tableViewsHandler(),
      'GET /api/clusters/1/pods/': (request) =>
        new URL(request.url).searchParams.get('cursor') === 'p2' ? page(30, null) : page(0, 'http://testserver/api/clusters/1/pods/?cursor=p2'),
    });
    const user = userEvent.setup();
    renderAt(<PodsTab clusterId={1} />, { route: '/clusters/1/pods', path: '/clusters/:id/pods', queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('pod-row-web/web-000');
    // The first page is short of the window's end, so the table asks for the next one.
    await waitFor(() => expect(screen.getByTestId('pods-list')).toHaveAttribute('data-rows', '60'));
    expect(seen.filter((r) => r.url.includes('/pods/')).map((r) => new URL(r.url).searchParams.get('cursor'))).toEqual([null, 'p2']);
    expect(lastList(seen, '/pods/').searchParams.get('page_size')).toBe('200');
    await user.click(screen.getByTestId('sort-restarts'));
    await waitFor(() => expect(lastList(seen, '/pods/').searchParams.get('ordering')).toBe('restarts'));
    expect(screen.getByTestId('list-freshness')).toHaveAttribute('data-state', 'synced');
  });
});
