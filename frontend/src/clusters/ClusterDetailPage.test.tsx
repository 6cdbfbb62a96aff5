import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { clusterDetail, nodeRow, page, podRow, syncExtra } from '../test/clusters';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ClusterDetailPage } from './ClusterDetailPage';

const operator: User = { ...adminUser, id: 2, username: 'op', role: 'operator', is_admin: false };
const fresh = { freshness: { state: 'synced', last_event: new Date().toISOString() } };

function openSocket(group: string, seq = 1) {
  getSocket().start();
  const ws = FakeWebSocket.latest();
  act(() => ws.serverOpen());
  act(() => ws.serverSend({ type: 'subscribed', group, seq }));
  return ws;
}

function render(route: string, me: User = adminUser) {
  return renderAt(<ClusterDetailPage />, { route, path: '/clusters/:id/:tab?', queryClient: testQueryClient(me) });
}

describe('ClusterDetailPage', () => {
  it('shows status, version, named missing permissions and sync states; re-check asks the server', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/': () =>
        json(
          clusterDetail(1, {
            missing_permissions: ['list persistentvolumes', 'create pods/eviction'],
            syncs: [{ kind: 'Pod', state: 'stale', last_event: null, object_count: 44, message: 'watch timed out', ...syncExtra }],
          }),
        ),
      'GET /api/clusters/1/nodes/': () => json(page([nodeRow('node-1')], fresh)),
      'POST /api/clusters/1/check/': () => json(clusterDetail(1), { status: 202 }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    });
    render('/clusters/1');
    const header = await screen.findByTestId('cluster-header');
    expect(within(header).getByTestId('cluster-version')).toHaveTextContent('v1.32.4');
    expect(within(header).getByTestId('missing-permissions')).toHaveTextContent('list persistentvolumes');
    expect(within(header).getByTestId('missing-permissions')).toHaveTextContent('create pods/eviction');
    expect(within(header).getByTestId('sync-Pod')).toHaveAttribute('data-state', 'stale');
    expect(within(header).getByTestId('sync-Pod')).toHaveTextContent('watch timed out');
    expect(within(header).getByTestId('create-objects')).toHaveAttribute('href', '/clusters/1/create');
    await userEvent.setup().click(within(header).getByTestId('recheck'));
    await waitFor(() => expect(seen.some((r) => r.method === 'POST' && r.url.endsWith('/api/clusters/1/check/'))).toBe(true));
  });

  it('shows a namespace-scoped cluster: the message with its code, not-permitted kinds, relist counters and the permission table with its RBAC YAML', async () => {
    const fix = 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: portal-nodes\n';
    mockFetch({
      'GET /api/clusters/1/': () =>
        json(
          clusterDetail(1, {
            status_code: 'connected_partial',
            status_message: 'Connected: Kubernetes v1.32.4, nodes not readable. The identity may read only some namespaces; the portal watches team-a.',
            missing_permissions: ['list nodes', 'watch nodes'],
            syncs: [
              { kind: 'Node', state: 'forbidden', last_event: null, object_count: 0, message: 'Not permitted: the identity may not list and watch nodes at the cluster scope.', ...syncExtra, code: 'forbidden' },
              { kind: 'Pod', state: 'synced', last_event: new Date().toISOString(), object_count: 4, message: '', ...syncExtra, relists: 2, last_relist_reason: 'gone', last_relist_at: new Date().toISOString() },
            ],
            permissions: {
              scope: 'namespaces',
              namespaces: ['team-a'],
              subject: { kind: 'ServiceAccount', name: 'portal', namespace: 'team-a' },
              kinds: { Node: { scope: 'none', namespaces: [] }, Pod: { scope: 'namespaces', namespaces: ['team-a'] } },
              rows: [
                { kind: 'Node', group: '', resource: 'nodes', subresource: '', scope: 'cluster', namespace: '', allowed: [], missing: ['list', 'watch'], fix },
                { kind: 'Pod', group: '', resource: 'pods', subresource: '', scope: 'namespace', namespace: 'team-a', allowed: ['list', 'watch'], missing: [], fix: '' },
              ],
              checked: new Date().toISOString(),
            },
          }),
        ),
      'GET /api/clusters/1/nodes/': () => json(page([], { freshness: { state: 'forbidden', last_event: null } })),
    });
    render('/clusters/1');
    const header = await screen.findByTestId('cluster-header');
    expect(within(header).getByTestId('status-message')).toHaveTextContent('Connected, with gaps.');
    expect(within(header).getByTestId('status-message')).toHaveTextContent('the portal watches team-a');
    expect(within(header).getByTestId('sync-Node')).toHaveAttribute('data-state', 'forbidden');
    expect(within(header).getByTestId('sync-Node')).toHaveTextContent('Not permitted');
    expect(within(header).getByTestId('relists-Pod')).toHaveTextContent('2 · last: 410 Gone');
    expect(within(header).getByTestId('relists-Node')).toHaveTextContent('—');
    const table = within(header).getByTestId('permissions-table');
    expect(within(header).getByTestId('permissions-scope')).toHaveTextContent('only some namespaces; the portal watches: team-a');
    expect(within(table).getByTestId('permission-nodes')).toHaveAttribute('data-missing', 'list,watch');
    expect(within(table).getByTestId('permission-nodes')).toHaveTextContent('whole cluster');
    expect(within(table).getByTestId('permission-pods-team-a')).toHaveAttribute('data-missing', '');
    expect(within(table).getByTestId('permission-fix')).toHaveTextContent('kind: ClusterRole');
    const list = await screen.findByTestId('list-freshness');
    expect(list).toHaveAttribute('data-state', 'forbidden');
    expect(list).toHaveTextContent("Not permitted: the portal's credentials may not read this kind");
  });

  it('changes the watched namespaces with PATCH (sent only when changed)', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1, { namespaces: ['team-a'] })),
      'GET /api/clusters/1/nodes/': () => json(page([nodeRow('node-1')], fresh)),
      'PATCH /api/clusters/1/': async (req) => json({ ...clusterDetail(1), ...((await req.json()) as object) }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    });
    render('/clusters/1');
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('edit-cluster'));
    const box = within(screen.getByTestId('edit-cluster-dialog')).getByTestId('edit-namespaces');
    expect(box).toHaveValue('team-a');
    await user.type(box, ', team-b');
    await user.click(screen.getByTestId('edit-cluster-save'));
    await waitFor(() => expect(seen.filter((r) => r.method === 'PATCH')).toHaveLength(1));
    expect(((await seen.filter((r) => r.method === 'PATCH')[0]!.json()) as { namespaces: string[] }).namespaces).toEqual([
      'team-a',
      'team-b',
    ]);
  });

  it('drains a node after a confirmation naming it, and shows live progress', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/nodes/node-1/drain-preview/': () =>
        json({
          node: 'node-1',
          options: { force: false, delete_emptydir_data: false },
          pods: [
            { pod: 'web/a', controller: 'ReplicaSet/a', action: 'evict', needs: [], reasons: [] },
            { pod: 'web/bare', controller: '', action: 'blocked', needs: ['force'], reasons: ['declares no controller'] },
            { pod: 'web/cache', controller: 'ReplicaSet/c', action: 'blocked', needs: ['delete_emptydir_data'], reasons: ['emptyDir'] },
            { pod: 'kube-system/agent', controller: 'DaemonSet/agent', action: 'skip', needs: [], reasons: ['DaemonSet pod'] },
          ],
          blocked: 2,
          lost: [],
        }),
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/nodes/': () => json(page([nodeRow('node-1'), nodeRow('node-2', { ready: false, unschedulable: true })], fresh)),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/clusters/1/nodes/node-1/drain/': () =>
        json(
          { id: 9, cluster: 1, node: 'node-1', kind: 'drain', status: 'pending', progress: { evicted: [], failed: [], skipped: [], remaining: 3 }, message: '', created: '', started: null, finished: null },
          { status: 202 },
        ),
      'GET /api/clusters/1/operations/9/': () =>
        json({ id: 9, cluster: 1, node: 'node-1', kind: 'drain', status: 'pending', progress: { evicted: [], failed: [], skipped: [], remaining: 3 }, message: '', created: '', started: null, finished: null }),
    });
    render('/clusters/1/nodes', operator);
    const row = await screen.findByTestId('node-row-node-1');
    expect(row).toHaveTextContent('12 / 110');
    expect(screen.getByTestId('node-row-node-2')).toHaveTextContent('NotReady');
    expect(within(screen.getByTestId('node-row-node-2')).getByTestId('cordoned')).toBeInTheDocument();
    expect(screen.getByTestId('uncordon-node-2')).toBeInTheDocument();
    const ws = openSocket('cluster.1');
    const user = userEvent.setup();
    await user.click(screen.getByTestId('drain-node-1'));
    const dialog = screen.getByTestId('drain-dialog');
    expect(dialog).toHaveTextContent('Drain node node-1?');
    // The pods that would stop the drain are listed, and it cannot be confirmed as it is.
    expect(await within(dialog).findByTestId('drain-blocking-web/bare')).toHaveTextContent('needs force');
    expect(within(dialog).getByTestId('drain-blocking-web/cache')).toBeInTheDocument();
    expect(within(dialog).getByTestId('drain-submit')).toBeDisabled();
    // With both options, those pods are shown as lost for good before confirming.
    await user.click(within(dialog).getByTestId('drain-option-force'));
    expect(within(dialog).getByTestId('drain-lost-web/bare')).toHaveTextContent('no controller recreates it');
    expect(within(dialog).getByTestId('drain-submit')).toBeDisabled();
    await user.click(within(dialog).getByTestId('drain-option-delete_emptydir_data'));
    expect(within(dialog).queryByTestId('drain-blocking')).not.toBeInTheDocument();
    expect(within(dialog).getByTestId('drain-lost-web/cache')).toHaveTextContent('emptyDir data is deleted');
    await user.click(within(dialog).getByTestId('drain-submit'));
    await waitFor(() => expect(seen.some((r) => r.method === 'POST' && r.url.endsWith('/drain/'))).toBe(true));
    const post = seen.find((r) => r.method === 'POST' && r.url.endsWith('/drain/'))!;
    expect(await post.json()).toEqual({ force: true, delete_emptydir_data: true });
    const progress = await screen.findByTestId('node-op-node-1');
    expect(progress).toHaveAttribute('data-status', 'pending');
    act(() =>
      ws.serverSend({
        type: 'node_operation.updated',
        group: 'cluster.1',
        seq: 2,
        data: { id: 9, cluster: 1, node: 'node-1', kind: 'drain', status: 'running', progress: { evicted: ['web/a', 'web/b'], failed: [{ pod: 'db/x', reason: 'PodDisruptionBudget' }], skipped: [], remaining: 1 }, message: '', created: '', started: null, finished: null },
      }),
    );
    await waitFor(() => expect(progress).toHaveAttribute('data-status', 'running'));
    expect(progress).toHaveTextContent('2 evicted, 1 remaining, 1 failed');
    expect(progress).toHaveTextContent('PodDisruptionBudget');
  });

  it('hides node operations from users who may not run them', async () => {
    mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/nodes/': () => json(page([nodeRow('node-1')], fresh)),
    });
    render('/clusters/1/nodes', { ...operator, role: 'user' });
    await screen.findByTestId('node-row-node-1');
    expect(screen.queryByTestId('cordon-node-1')).not.toBeInTheDocument();
    expect(screen.queryByTestId('recheck')).not.toBeInTheDocument();
  });

  it('refetches the pod list when a digest names a namespace it shows', async () => {
    let version = 1;
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/pods/': () =>
        json(page(version === 1 ? [podRow('web', 'web-1')] : [podRow('web', 'web-1'), podRow('web', 'web-2', {}, { status_text: 'ContainerCreating' })], fresh)),
    });
    render('/clusters/1/pods');
    expect(await screen.findByTestId('pod-row-web/web-1')).toHaveTextContent('Running');
    const params = new URL(seen.filter((r) => r.url.includes('/pods/')).at(-1)!.url).searchParams;
    expect(params.get('page_size')).toBe('200');
    const ws = openSocket('cluster.1');
    version = 2;
    act(() => ws.serverSend({ type: 'objects.changed', group: 'cluster.1', seq: 2, data: { changes: [{ kind: 'Pod', namespaces: { web: { upserted: 1, deleted: 0 } } }] } }));
    expect(await screen.findByTestId('pod-row-web/web-2', {}, { timeout: 3000 })).toHaveAttribute('data-status', 'ContainerCreating');

    const user = userEvent.setup();
    await user.click(screen.getByTestId('sort-restarts'));
    await waitFor(() => expect(new URL(seen.at(-1)!.url).searchParams.get('ordering')).toBe('restarts'));
  });

  it('filtered to a namespace, takes full rows from the namespace group without refetching', async () => {
    let calls = 0;
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/pods/': () => {
        calls += 1;
        return json(page([podRow('web', 'web-1'), podRow('web', 'web-3')], fresh));
      },
    });
    render('/clusters/1/pods?namespace=web&phase=Running');
    expect(await screen.findByTestId('pod-row-web/web-1')).toBeInTheDocument();
    const params = new URL(seen.filter((r) => r.url.includes('/pods/')).at(-1)!.url).searchParams;
    expect(params.get('namespace')).toBe('web');
    expect(params.get('phase')).toBe('Running');
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'cluster.1.ns.web' });
    act(() => ws.serverSend({ type: 'subscribed', group: 'cluster.1', seq: 1 }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'cluster.1.ns.web', seq: 1 }));
    act(() =>
      ws.serverSend({
        type: 'objects.changed',
        group: 'cluster.1.ns.web',
        seq: 2,
        data: { changes: [{ kind: 'Pod', upserts: [podRow('web', 'web-2'), podRow('web', 'web-1', {}, { status_text: 'Terminating' })], deletes: [{ namespace: 'web', name: 'web-3' }] }] },
      }),
    );
    // ... and the digest of the same change on the cluster group does not refetch this list.
    act(() => ws.serverSend({ type: 'objects.changed', group: 'cluster.1', seq: 2, data: { changes: [{ kind: 'Pod', namespaces: { web: { upserted: 2, deleted: 1 } } }] } }));
    expect(await screen.findByTestId('pod-row-web/web-2')).toBeInTheDocument();
    expect(screen.getByTestId('pod-row-web/web-1')).toHaveAttribute('data-status', 'Terminating');
    expect(screen.queryByTestId('pod-row-web/web-3')).not.toBeInTheDocument();
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
  });

  it('deletes a cluster only after its name is typed', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1, { name: 'seoul-prod' })),
      'GET /api/clusters/1/nodes/': () => json(page([], fresh)),
      'DELETE /api/clusters/1/': () => new Response(null, { status: 204 }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    });
    render('/clusters/1');
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('delete-cluster'));
    const dialog = screen.getByTestId('type-confirm-dialog');
    expect(dialog).toHaveTextContent('Delete cluster seoul-prod?');
    const submit = within(dialog).getByTestId('type-confirm-submit');
    expect(submit).toBeDisabled();
    await user.type(within(dialog).getByTestId('type-confirm-input'), 'seoul-pro');
    expect(submit).toBeDisabled();
    await user.type(within(dialog).getByTestId('type-confirm-input'), 'd');
    expect(submit).toBeEnabled();
    await user.click(submit);
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent(/^\/clusters$/));
    expect(seen.some((r) => r.method === 'DELETE')).toBe(true);
  });

  it('edits metadata with PATCH, disables with PATCH enabled=false, replaces credentials with POST', async () => {
    let current = clusterDetail(1, { name: 'seoul-prod', labels: { team: 'core' } });
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(current),
      'GET /api/clusters/1/nodes/': () => json(page([], fresh)),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'PATCH /api/clusters/1/': async (req) => {
        const body = (await req.json()) as Record<string, unknown>;
        current = { ...current, ...body };
        return json(current);
      },
      'POST /api/clusters/1/credentials/': () =>
        json({ detail: 'Invalid input.', errors: { token: ['The cluster rejected the credentials (401).'] } }, { status: 400 }),
    });
    render('/clusters/1');
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('edit-cluster'));
    const edit = screen.getByTestId('edit-cluster-dialog');
    expect(within(edit).queryByRole('textbox', { name: 'Name' })).not.toBeInTheDocument(); // the name is fixed
    await user.clear(within(edit).getByRole('textbox', { name: 'Display name' }));
    await user.type(within(edit).getByRole('textbox', { name: 'Display name' }), '서울 운영');
    await user.selectOptions(within(edit).getByRole('combobox', { name: 'Stage' }), 'stage');
    await user.click(within(edit).getByTestId('edit-cluster-save'));
    await waitFor(() => expect(screen.queryByTestId('edit-cluster-dialog')).not.toBeInTheDocument());
    const patch = seen.filter((r) => r.method === 'PATCH')[0]!;
    expect(await patch.json()).toEqual({
      display_name: '서울 운영',
      description: '',
      provider: 'eks',
      region: 'ap-northeast-2',
      stage: 'stage',
      labels: { team: 'core' },
    });
    expect(await screen.findByText('서울 운영')).toBeInTheDocument();

    await user.click(screen.getByTestId('toggle-enabled'));
    await waitFor(() => expect(seen.filter((r) => r.method === 'PATCH')).toHaveLength(2));
    expect(await seen.filter((r) => r.method === 'PATCH')[1]!.json()).toEqual({ enabled: false });
    await waitFor(() => expect(screen.getByTestId('toggle-enabled')).toHaveTextContent('Enable'));

    await user.click(screen.getByTestId('replace-credentials'));
    const creds = screen.getByTestId('credentials-dialog');
    await user.click(within(creds).getByTestId('mode-url'));
    await user.type(within(creds).getByRole('textbox', { name: 'API server URL' }), 'https://10.0.0.9:6443');
    await user.type(within(creds).getByRole('textbox', { name: 'Token' }), 'new-token');
    await user.click(within(creds).getByTestId('credentials-save'));
    await waitFor(() =>
      expect(within(creds).getByRole('textbox', { name: 'Token' })).toHaveAccessibleDescription('The cluster rejected the credentials (401).'),
    );
    const post = seen.find((r) => r.url.endsWith('/credentials/'))!;
    expect(await post.json()).toEqual({
      server: 'https://10.0.0.9:6443',
      ca_pem: '',
      token: 'new-token',
      insecure_skip_tls_verify: false,
      allow_insecure: false,
    });
  });

  it('draws each node with a square per pod coloured by status in the placement view', async () => {
    mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/clusters/1/nodes/': () => json(page([nodeRow('node-1'), nodeRow('node-2', { ready: false })], fresh)),
      'GET /api/clusters/1/pods/': () =>
        json(
          page(
            [
              podRow('web', 'web-1', { node_name: 'node-1' }),
              podRow('web', 'web-2', { node_name: 'node-1' }, { status_text: 'CrashLoopBackOff' }),
              podRow('web', 'web-3', { node_name: 'node-2', phase: 'Pending' }, { status_text: 'ContainerCreating' }),
              podRow('web', 'web-4', { node_name: '', phase: 'Pending' }, { status_text: 'Pending' }),
            ],
            fresh,
          ),
        ),
    });
    render('/clusters/1/nodes?view=placement');
    const node1 = await screen.findByTestId('placement-node-node-1');
    expect(node1).toHaveAttribute('data-pods', '2');
    expect(within(node1).getByTestId('pod-square-web/web-1')).toHaveClass('tone-ok');
    expect(within(node1).getByTestId('pod-square-web/web-2')).toHaveClass('tone-bad');
    expect(within(node1).getByTestId('pod-square-web/web-2')).toHaveAttribute('href', '/clusters/1/pods/web/web-2');
    const node2 = screen.getByTestId('placement-node-node-2');
    expect(node2).toHaveClass('notready');
    expect(within(node2).getByTestId('pod-square-web/web-3')).toHaveClass('tone-warn');
    expect(screen.getByTestId('placement-node-unscheduled')).toHaveAttribute('data-pods', '1');
  });
});

