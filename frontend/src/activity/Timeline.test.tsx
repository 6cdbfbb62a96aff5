import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { getSocket } from '../lib/socket';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import type { TimelineEntry, TimelinePage } from './api';
import { Timeline, addsEntries } from './Timeline';

function entry(over: Partial<TimelineEntry>): TimelineEntry {
  return {
    id: 'portal:7',
    time: '2026-03-01T12:00:00+00:00',
    source: 'portal',
    actor: 'alice',
    cluster: 1,
    namespace: 'shop',
    kind: 'Deployment',
    name: 'web',
    action: 'apply',
    status: 'succeeded',
    summary: '',
    message_code: '',
    message_params: {},
    type: 'Normal',
    has_diff: false,
    detail: {},
    ...over,
  };
}

const PORTAL = entry({ id: 'portal:7', has_diff: true });
const KUBECTL = entry({
  id: 'outside:3',
  time: '2026-03-01T12:01:00+00:00',
  source: 'outside',
  actor: 'kubectl-edit',
  action: 'update',
  status: '',
  has_diff: true,
  message_code: 'changed_outside_portal',
  message_params: { manager: 'kubectl-edit' },
});
const BACKOFF = entry({
  id: 'event:40',
  time: '2026-03-01T12:02:00+00:00',
  source: 'event',
  actor: 'kubelet',
  kind: 'Pod',
  name: 'web-1',
  action: 'BackOff',
  status: '',
  summary: 'Back-off restarting failed container',
  type: 'Warning',
});

function timelinePage(results: TimelineEntry[], next: string | null = null, groups = ['cluster.1.ns.shop']): TimelinePage {
  return { next, previous: null, results, groups };
}

const OBJECT = { cluster: 1, namespace: 'shop', kind: 'Deployment', name: 'web' };

describe('Timeline', () => {
  it('shows entries newest first with who, what and source, highlights warnings and opens a diff', async () => {
    const seen = mockFetch({
      'GET /api/activity/': () => json(timelinePage([BACKOFF, KUBECTL, PORTAL])),
      'GET /api/activity/diff/outside:3/': () =>
        json({ id: 'outside:3', diff: '--- a\n+++ b\n@@ -1 +1 @@\n-replicas: 3\n+replicas: 5\n', before: { time: '2026-03-01T12:00:00Z', manager: 'portal:alice' } }),
    });
    const user = userEvent.setup();
    renderAt(<Timeline scope={OBJECT} />, { queryClient: testQueryClient(adminUser) });
    const items = await screen.findAllByTestId(/^timeline-entry-/);
    expect(items.map((li) => li.dataset.testid)).toEqual(['timeline-entry-event:40', 'timeline-entry-outside:3', 'timeline-entry-portal:7']);
    const query = new URL(seen[0]!.url).searchParams;
    expect(Object.fromEntries(query)).toEqual({ cluster: '1', namespace: 'shop', kind: 'Deployment', name: 'web', page_size: '50' });

    expect(items[0]).toHaveAttribute('data-type', 'Warning');
    expect(items[0]).toHaveClass('timeline-warning');
    expect(items[0]).toHaveTextContent('BackOff: Back-off restarting failed container');
    expect(items[1]).toHaveTextContent('Deployment web changed outside the portal by kubectl-edit');
    expect(items[1]).toHaveTextContent('Outside the portal');
    expect(items[2]).toHaveTextContent('alice edited Deployment web');
    expect(items[2]).toHaveTextContent('done');
    expect(items[1]).not.toHaveClass('timeline-warning');
    expect(within(items[0]!).queryByRole('button')).not.toBeInTheDocument(); // events have no diff

    await user.click(screen.getByTestId('timeline-diff-button-outside:3'));
    const diff = await screen.findByTestId('timeline-unified-diff-outside:3');
    expect(diff).toHaveTextContent('+replicas: 5');
    expect(screen.getByTestId('timeline-diff-outside:3')).toHaveTextContent("portal:alice's change");
    await user.click(screen.getByTestId('timeline-diff-button-outside:3'));
    expect(screen.queryByTestId('timeline-diff-outside:3')).not.toBeInTheDocument();
  });

  it('tells a shell that was refused or failed from one that was opened', async () => {
    const shell = (id: string, status: string, over: Partial<TimelineEntry> = {}) =>
      entry({ id, source: 'exec', kind: 'Pod', name: 'web-1', action: 'exec', status, detail: { container: 'web' }, ...over });
    mockFetch({
      'GET /api/activity/': () =>
        json(
          timelinePage([
            shell('exec:3', 'failure', { type: 'Warning', message_code: 'exec_session_failed', message_params: { pod: 'web-1', container: 'web', ended: 'failed' } }),
            shell('exec:2', 'denied', { type: 'Warning', message_code: 'exec_refused', message_params: { pod: 'web-1', container: 'web', reason: 'grant_missing' } }),
            shell('exec:1', 'success'),
          ]),
        ),
    });
    renderAt(<Timeline scope={{ cluster: 1, namespace: 'shop', kind: 'Pod', name: 'web-1' }} />, { queryClient: testQueryClient(adminUser) });
    const [failed, refused, opened] = await screen.findAllByTestId(/^timeline-entry-exec/);
    expect(opened).toHaveTextContent('alice opened a shell in web-1 (web)');
    expect(opened).not.toHaveClass('timeline-warning');
    expect(refused).toHaveTextContent('alice was refused a shell in web-1 (web)');
    expect(refused).toHaveTextContent('refused');
    expect(refused).toHaveTextContent('Refused: the shell was not opened (grant_missing).');
    expect(refused).toHaveClass('timeline-warning');
    expect(refused).not.toHaveTextContent('opened a shell');
    expect(failed).toHaveTextContent("alice's shell in web-1 (web) failed");
    expect(failed).toHaveTextContent('The shell could not be started or broke off (failed).');
    expect(failed).toHaveClass('timeline-warning');
  });

  it('filters by source and loads more pages after the cursor', async () => {
    const seen = mockFetch({
      'GET /api/activity/': (request) => {
        const params = new URL(request.url).searchParams;
        if (params.get('cursor') === 'c2') return json(timelinePage([PORTAL]));
        if (params.get('source')) return json(timelinePage([KUBECTL]));
        return json(timelinePage([BACKOFF, KUBECTL], 'http://localhost/api/activity/?service_map=4&cursor=c2'));
      },
    });
    const user = userEvent.setup();
    renderAt(<Timeline scope={{ serviceMap: 4 }} />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findAllByTestId(/^timeline-entry-/)).toHaveLength(2);
    await user.click(screen.getByTestId('timeline-more'));
    await waitFor(() => expect(screen.getAllByTestId(/^timeline-entry-/)).toHaveLength(3));
    expect(new URL(seen.at(-1)!.url).searchParams.get('service_map')).toBe('4');
    expect(screen.queryByTestId('timeline-more')).not.toBeInTheDocument();

    await user.click(screen.getByTestId('timeline-filter-event'));
    await waitFor(() => expect(screen.getAllByTestId(/^timeline-entry-/)).toHaveLength(1));
    expect(new URL(seen.at(-1)!.url).searchParams.get('source')).toBe('portal,release,outside,exec');
  });

  it('follows its socket groups and refetches when an entry may have been added', async () => {
    let reads = 0;
    mockFetch({
      'GET /api/activity/': () => {
        reads += 1;
        return json(timelinePage(reads === 1 ? [PORTAL] : [KUBECTL, PORTAL]));
      },
    });
    renderAt(<Timeline scope={OBJECT} />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findAllByTestId(/^timeline-entry-/)).toHaveLength(1);
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'cluster.1.ns.shop' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'cluster.1.ns.shop', seq: 1 }));
    act(() =>
      ws.serverSend({ type: 'objects.changed', group: 'cluster.1.ns.shop', seq: 2, data: { changes: [{ kind: 'Pod', upserts: [], deletes: [] }] } }),
    );
    act(() =>
      ws.serverSend({
        type: 'activity.entry',
        group: 'cluster.1.ns.shop',
        seq: 3,
        data: { entries: [{ cluster: 1, namespace: 'shop', kind: 'Deployment', name: 'web', manager: 'kubectl-edit', source: 'outside' }] },
      }),
    );
    await waitFor(() => expect(screen.getAllByTestId(/^timeline-entry-/)).toHaveLength(2), { timeout: 3000 });
    expect(reads).toBe(2); // the Pod change did not refetch; the outside change did, once
  });

  it('sends an empty namespace for a cluster-scoped object and says when nothing happened', async () => {
    const seen = mockFetch({ 'GET /api/activity/': () => json(timelinePage([], null, ['cluster.1'])) });
    renderAt(<Timeline scope={{ cluster: 1, kind: 'Node', name: 'node-1' }} />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('timeline-empty')).toHaveTextContent('Nothing has happened here yet.');
    const params = new URL(seen[0]!.url).searchParams;
    expect([params.get('namespace'), params.get('kind'), params.get('name')]).toEqual(['', 'Node', 'node-1']);
  });

  it('counts objects.changed as news only when it carries Events', () => {
    const event = (type: string, data: unknown) => ({ type, group: 'g', seq: 1, data });
    expect(addsEntries(event('objects.changed', { changes: [{ kind: 'Event', upserts: [] }] }))).toBe(true);
    expect(addsEntries(event('objects.changed', { changes: [{ kind: 'Deployment', upserts: [] }] }))).toBe(false);
    expect(addsEntries(event('objects.action', {}))).toBe(true);
    expect(addsEntries(event('servicemap.updated', {}))).toBe(false);
  });
});
