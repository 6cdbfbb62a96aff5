import { diagnosticCount } from '@codemirror/lint';
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { getSocket } from '../lib/socket';
import { clusterDetail, page, podRow } from '../test/clusters';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { DEPLOYMENT_YAML, allowAll, deepQueryAll, deny, editText, editorView, objectAction, objectDetail } from '../test/objects';
import { adminUser, json, mockFetch, renderAt, testQueryClient, type Handler } from '../test/utils';
import { ObjectPage } from './ObjectPage';
import { lineOfField, matchLabelsOf } from './YamlEditor';

const path = '/clusters/:id/objects/:group/:version/:plural/:name';
const route = '/clusters/1/objects/apps/v1/deployments/web?namespace=shop';
const OBJECT = 'GET /api/clusters/1/objects/apps/v1/deployments/web/';

function base(extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    'GET /api/clusters/1/': () => json(clusterDetail(1)),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    'GET /api/clusters/1/workloads/': () => json(page([])),
    [OBJECT]: () => json(objectDetail()),
    ...extra,
  };
}

async function render() {
  const result = renderAt(<ObjectPage />, { route, path, queryClient: testQueryClient(adminUser) });
  const editor = await screen.findByTestId('yaml-editor');
  await waitFor(() => expect(deepQueryAll(editor, '.cm-content')[0]).toHaveTextContent('replicas: 1'));
  return { ...result, editor };
}

describe('ObjectPage: edit YAML', () => {
  it('previews the edit as a diff, applies it and follows the action to the reloaded object', async () => {
    let reads = 0;
    const seen = mockFetch(
      base({
        [OBJECT]: () => {
          reads += 1;
          return json(objectDetail(reads === 1 ? {} : { yaml: DEPLOYMENT_YAML.replace('replicas: 1', 'replicas: 3'), resource_version: '102' }));
        },
        'POST /api/clusters/1/objects/apps/v1/deployments/web/preview/': () =>
          json({
            changed: true,
            diff: '--- live\n+++ applied\n@@\n-  replicas: 1\n+  replicas: 3\n',
            live_yaml: DEPLOYMENT_YAML,
            result_yaml: DEPLOYMENT_YAML.replace('replicas: 1', 'replicas: 3'),
            conflicts: [],
          }),
        'POST /api/clusters/1/objects/apps/v1/deployments/web/apply/': () => json(objectAction({ status: 'pending' }), { status: 202 }),
        'GET /api/clusters/actions/7/': () => json(objectAction({ status: 'running' })),
      }),
    );
    const user = userEvent.setup();
    const { editor } = await render();
    expect(screen.getByTestId('yaml-preview')).toBeDisabled(); // nothing edited yet
    act(() => editText(editor, 'replicas: 1', 'replicas: 3'));
    await user.click(screen.getByTestId('yaml-preview'));

    const result = await screen.findByTestId('yaml-preview-result');
    expect(result).toHaveAttribute('data-changed', 'true');
    const diff = within(result).getByTestId('yaml-diff');
    await waitFor(() => expect(deepQueryAll(diff, '.cm-editor')).toHaveLength(2));
    expect(deepQueryAll(diff, '.cm-editor')[0]).toHaveTextContent('replicas: 1');
    expect(deepQueryAll(diff, '.cm-editor')[1]).toHaveTextContent('replicas: 3');
    const previewBody = (await seen.find((r) => r.url.includes('/preview/'))!.json()) as { yaml: string };
    expect(previewBody.yaml).toContain('replicas: 3');
    expect(new URL(seen.find((r) => r.url.includes('/preview/'))!.url).searchParams.get('namespace')).toBe('shop');

    await user.click(screen.getByTestId('yaml-apply'));
    expect(await screen.findByTestId('yaml-applying')).toBeInTheDocument();
    const applyBody = (await seen.find((r) => r.url.includes('/apply/'))!.json()) as { yaml: string; force: boolean };
    expect(applyBody).toEqual({ yaml: expect.stringContaining('replicas: 3') as string, force: false });

    // The action's outcome arrives on the namespace's socket group.
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'cluster.1.ns.shop' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'cluster.1.ns.shop', seq: 1 }));
    act(() =>
      ws.serverSend({
        type: 'objects.action',
        group: 'cluster.1.ns.shop',
        seq: 2,
        data: objectAction({ status: 'succeeded', message: 'Applied.', result: { resource_version: '102' } }),
      }),
    );
    expect(await screen.findByTestId('apply-succeeded')).toBeInTheDocument();
    // The editor now holds the object as the cluster stores it.
    await waitFor(() => expect(screen.getByTestId('object-resource-version')).toHaveTextContent('102'));
    await waitFor(() => expect(editorView(screen.getByTestId('yaml-editor')).state.doc.toString()).toContain('replicas: 3'));
    expect(screen.getByTestId('yaml-preview')).toBeDisabled();
  }, 20_000);

  it('lists conflicts field by field with their manager; back out keeps the draft, force applies with force', async () => {
    const seen = mockFetch(
      base({
        'POST /api/clusters/1/objects/apps/v1/deployments/web/preview/': () =>
          json({
            changed: true,
            diff: '',
            live_yaml: DEPLOYMENT_YAML,
            result_yaml: DEPLOYMENT_YAML.replace('replicas: 1', 'replicas: 5'),
            conflicts: [{ field: '.spec.replicas', manager: 'hpa-controller', message: 'conflict with "hpa-controller": .spec.replicas' }],
          }),
        'POST /api/clusters/1/objects/apps/v1/deployments/web/apply/': () => json(objectAction({ status: 'pending' }), { status: 202 }),
        'GET /api/clusters/actions/7/': () => json(objectAction({ status: 'succeeded' })),
      }),
    );
    const user = userEvent.setup();
    const { editor } = await render();
    act(() => editText(editor, 'replicas: 1', 'replicas: 5'));
    await user.click(screen.getByTestId('yaml-preview'));
    const row = await screen.findByTestId('conflict-0');
    expect(row).toHaveAttribute('data-field', '.spec.replicas');
    expect(row).toHaveTextContent('hpa-controller');
    expect(screen.queryByTestId('yaml-apply')).not.toBeInTheDocument(); // only force or back out

    await user.click(screen.getByTestId('back-out'));
    expect(screen.queryByTestId('yaml-preview-result')).not.toBeInTheDocument();
    expect(editorView(screen.getByTestId('yaml-editor')).state.doc.toString()).toContain('replicas: 5');
    expect(seen.some((r) => r.url.includes('/apply/'))).toBe(false);

    await user.click(screen.getByTestId('yaml-preview'));
    await user.click(await screen.findByTestId('apply-force'));
    await waitFor(() => expect(seen.some((r) => r.url.includes('/apply/'))).toBe(true));
    const body = (await seen.find((r) => r.url.includes('/apply/'))!.json()) as { force: boolean };
    expect(body.force).toBe(true);
  }, 20_000);

  it('puts the API validation errors on their lines in the editor', async () => {
    mockFetch(
      base({
        'POST /api/clusters/1/objects/apps/v1/deployments/web/preview/': () =>
          json(
            {
              detail: 'The cluster refused the object.',
              code: 'api_invalid',
              errors: [
                { field: 'spec.replicas', line: null, message: 'Invalid value: -1: must be greater than or equal to 0' },
                { field: 'spec.template.spec.containers[0].image', line: null, message: 'Required value' },
              ],
            },
            { status: 400 },
          ),
      }),
    );
    const user = userEvent.setup();
    const { editor } = await render();
    act(() => editText(editor, 'replicas: 1', 'replicas: -1'));
    await user.click(screen.getByTestId('yaml-preview'));
    const errors = await screen.findByTestId('yaml-errors');
    expect(errors).toHaveTextContent('must be greater than or equal to 0');
    const view = editorView(screen.getByTestId('yaml-editor'));
    await waitFor(() => expect(diagnosticCount(view.state)).toBe(2));
    // the markers sit on the lines of those fields
    const lines = DEPLOYMENT_YAML.split('\n');
    expect(lines[lineOfField(DEPLOYMENT_YAML, 'spec.replicas')! - 1]).toBe('  replicas: 1');
    expect(lines[lineOfField(DEPLOYMENT_YAML, 'spec.template.spec.containers[0].image')! - 1]).toBe('        image: nginx:1.27');
  }, 20_000);

  it('marks unparsable YAML at the line the server names', async () => {
    mockFetch(
      base({
        'POST /api/clusters/1/objects/apps/v1/deployments/web/preview/': () =>
          json({ detail: 'The YAML does not parse.', code: 'yaml_invalid', params: { lines: [{ line: 9, message: 'mapping values are not allowed here' }] }, errors: { yaml: ['mapping values are not allowed here'] } }, { status: 400 }),
      }),
    );
    const user = userEvent.setup();
    const { editor } = await render();
    act(() => editText(editor, 'replicas: 1', 'replicas: 1: 2'));
    await user.click(screen.getByTestId('yaml-preview'));
    expect(await screen.findByTestId('yaml-error-0')).toHaveAttribute('data-line', '9');
    await waitFor(() => expect(diagnosticCount(editorView(screen.getByTestId('yaml-editor')).state)).toBe(1));
  }, 20_000);

  it('says so when someone else changes the object while it is being edited', async () => {
    let reads = 0;
    mockFetch(
      base({
        [OBJECT]: () => {
          reads += 1;
          return json(objectDetail(reads === 1 ? {} : { yaml: DEPLOYMENT_YAML.replace('nginx:1.27', 'nginx:1.28'), resource_version: '150' }));
        },
      }),
    );
    const { editor } = await render();
    act(() => editText(editor, 'replicas: 1', 'replicas: 2'));
    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'cluster.1.ns.shop' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'cluster.1.ns.shop', seq: 1 }));
    // another Deployment's change is not this object's
    act(() => ws.serverSend({ type: 'objects.changed', group: 'cluster.1.ns.shop', seq: 2, data: { changes: [{ kind: 'Deployment', upserts: [{ kind: 'Deployment', namespace: 'shop', name: 'api' }] }] } }));
    act(() => ws.serverSend({ type: 'objects.changed', group: 'cluster.1.ns.shop', seq: 3, data: { changes: [{ kind: 'Deployment', upserts: [{ kind: 'Deployment', namespace: 'shop', name: 'web' }] }] } }));
    expect(await screen.findByTestId('live-moved', {}, { timeout: 5000 })).toBeInTheDocument();
    expect(reads).toBe(2);
    // the edit is kept until the user chooses to load the live version
    expect(editorView(screen.getByTestId('yaml-editor')).state.doc.toString()).toContain('replicas: 2');
    await userEvent.setup().click(screen.getByTestId('load-live'));
    expect(editorView(screen.getByTestId('yaml-editor')).state.doc.toString()).toContain('nginx:1.28');
  }, 20_000);

  it('is read-only, saying why, for a user who may not edit', async () => {
    mockFetch(base({ [OBJECT]: () => json(objectDetail({ permissions: deny(allowAll(), 'objects.edit') })) }));
    await render();
    expect(screen.getByTestId('edit-denied')).toHaveTextContent('does not grant objects.edit');
    expect(screen.getByTestId('yaml-editor')).toHaveAttribute('data-readonly', 'true');
    expect(screen.queryByTestId('yaml-preview')).not.toBeInTheDocument();
  }, 20_000);

  it('warns that a release owns the object, with a link to the release', async () => {
    mockFetch(base({ [OBJECT]: () => json(objectDetail({ owner_release: { id: 42, name: 'web-prod', service_map_id: 3 } })) }));
    await render();
    expect(screen.getByTestId('owner-release-warning')).toHaveTextContent('the next deploy of the release puts your change back');
    expect(screen.getByTestId('owner-release-link')).toHaveAttribute('href', '/releases/42');
  }, 20_000);
});

describe('ObjectPage: tabs', () => {
  it('gives a pod a terminal tab with its containers, and a Deployment none', async () => {
    mockFetch(
      base({
        'GET /api/clusters/1/objects/core/v1/pods/web-1/': () =>
          json(objectDetail({ api_version: 'v1', kind: 'Pod', name: 'web-1', yaml: 'apiVersion: v1\nkind: Pod\n' })),
        'GET /api/clusters/1/pods/shop/web-1/': () => json({ ...podRow('shop', 'web-1'), object: {} }),
        'GET /api/clusters/1/events/': () => json(page([])),
      }),
    );
    const user = userEvent.setup();
    renderAt(<ObjectPage />, { route: '/clusters/1/objects/core/v1/pods/web-1?namespace=shop', path, queryClient: testQueryClient(adminUser) });
    await user.click(await screen.findByTestId('object-tab-terminal'));
    const terminal = await screen.findByTestId('pod-terminal');
    expect(within(terminal).getByTestId('terminal-container')).toHaveTextContent('app');
    expect(screen.queryByTestId('object-pods')).not.toBeInTheDocument();
  }, 20_000);

  it("shows the object's timeline, asked for by cluster, namespace, kind and name", async () => {
    const seen = mockFetch(base({ 'GET /api/activity/': () => json({ next: null, previous: null, results: [] }) }));
    const user = userEvent.setup();
    await render();
    await user.click(screen.getByTestId('object-tab-timeline'));
    await waitFor(() => expect(seen.some((r) => r.url.includes('/api/activity/'))).toBe(true));
    const query = new URL(seen.find((r) => r.url.includes('/api/activity/'))!.url).searchParams;
    expect(Object.fromEntries(query)).toMatchObject({ cluster: '1', namespace: 'shop', kind: 'Deployment', name: 'web' });
    expect(screen.getByTestId('location')).toHaveTextContent('tab=timeline');
  }, 20_000);

  it('has no terminal tab for a Deployment, and lists its pods', async () => {
    mockFetch(base());
    await render();
    expect(screen.queryByTestId('object-tab-terminal')).not.toBeInTheDocument();
    expect(screen.getByTestId('object-pods')).toBeInTheDocument();
  }, 20_000);
});

describe('lineOfField', () => {
  it('finds keys, list items and nested keys; null when missing', () => {
    expect(lineOfField(DEPLOYMENT_YAML, 'metadata.labels.app')).toBe(7);
    expect(lineOfField(DEPLOYMENT_YAML, 'spec.template.spec.containers[0].name')).toBe(19);
    expect(lineOfField('a:\n  b: 1\n', 'c')).toBeNull();
    expect(lineOfField('a:\n  b: 1\n', 'a.c')).toBe(1); // the deepest part found
  }, 20_000);

  it("reads a workload's matchLabels, and gives up on selectors it cannot read simply", () => {
    expect(matchLabelsOf(DEPLOYMENT_YAML)).toEqual({ app: 'web' });
    expect(matchLabelsOf('spec:\n  selector:\n    matchLabels: {app: web}\n')).toBeNull();
    expect(matchLabelsOf('spec:\n  selector:\n    matchLabels:\n      app: web\n    matchExpressions:\n    - key: tier\n')).toBeNull();
  });
});
