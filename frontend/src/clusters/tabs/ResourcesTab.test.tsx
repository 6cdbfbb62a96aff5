import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../../test/utils';
import { groupKinds, type ApiResource, type ResourcePage } from '../resources';
import { ResourcesTab } from './ResourcesTab';

const kind = (group: string, plural: string, k: string, extra: Partial<ApiResource> = {}): ApiResource => ({
  group,
  version: 'v1',
  plural,
  kind: k,
  namespaced: true,
  verbs: ['get', 'list'],
  short_names: [],
  categories: [],
  source: 'live',
  ...extra,
});

const widgets = kind('example.com', 'widgets', 'Widget', { short_names: ['wg'] });
const KINDS = {
  resources: [
    kind('', 'configmaps', 'ConfigMap', { short_names: ['cm'] }),
    kind('', 'secrets', 'Secret'),
    kind('', 'pods', 'Pod', { source: 'read_model' }),
    kind('', 'nodes', 'Node', { namespaced: false, source: 'read_model' }),
    widgets,
  ],
  discovery_error: null,
};
const NAMESPACES: ResourcePage = {
  source: 'read_model',
  resource: kind('', 'namespaces', 'Namespace', { namespaced: false }),
  columns: [],
  rows: [
    { name: 'shop', namespace: '', cells: [], labels: {} },
    { name: 'blog', namespace: '', cells: [], labels: {} },
  ],
  continue: '',
  remaining: null,
  freshness: { state: 'fresh', last_event: null },
};
const widgetPage = (names: string[], next: string): ResourcePage => ({
  source: 'live',
  resource: widgets,
  columns: [
    { name: 'Name', type: 'string', format: 'name', priority: 0, description: '' },
    { name: 'Size', type: 'integer', format: '', priority: 0, description: '' },
    { name: 'Color', type: 'string', format: '', priority: 0, description: '' },
    { name: 'Wide', type: 'string', format: '', priority: 1, description: '' },
    { name: 'Age', type: 'string', format: '', priority: 0, description: '' },
  ],
  rows: names.map((n, i) => ({ name: n, namespace: 'shop', cells: [n, i + 1, 'red', 'hidden-wide', '5m'], labels: {} })),
  continue: next,
  remaining: next ? 1 : null,
  freshness: null,
});

describe('resource browser', () => {
  it('groups kinds by API group and searches kind, plural, group and short names', () => {
    const grouped = groupKinds(KINDS.resources, '');
    expect(grouped.map(([g]) => g)).toEqual(['', 'example.com']);
    expect(grouped[0]?.[1].map((r) => r.kind)).toEqual(['ConfigMap', 'Node', 'Pod', 'Secret']);
    expect(groupKinds(KINDS.resources, 'wg').flatMap(([, l]) => l.map((r) => r.kind))).toEqual(['Widget']);
    expect(groupKinds(KINDS.resources, 'example').flatMap(([, l]) => l.map((r) => r.kind))).toEqual(['Widget']);
    expect(groupKinds(KINDS.resources, 'map').flatMap(([, l]) => l.map((r) => r.kind))).toEqual(['ConfigMap']);
  });

  it("lists a custom resource with the server's columns, pages, filters and opens an object's YAML", async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/resources/': () => json(KINDS),
      'GET /api/clusters/1/resources/core/v1/namespaces/': () => json(NAMESPACES),
      'GET /api/clusters/1/resources/example.com/v1/widgets/': (req) => {
        const token = new URL(req.url).searchParams.get('continue');
        return json(token === 'page-2' ? widgetPage(['w3'], '') : widgetPage(['w1', 'w2'], 'page-2'));
      },
      'GET /api/clusters/1/resources/example.com/v1/widgets/w2/': () =>
        json({
          source: 'live',
          resource: widgets,
          object: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w2', namespace: 'shop' }, spec: { size: 2 } },
          secret_keys: null,
        }),
    });
    const user = userEvent.setup();
    renderAt(<ResourcesTab clusterId={1} />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('resources-pick')).toBeInTheDocument();
    await user.type(screen.getByTestId('kind-search'), 'widg');
    expect(screen.queryByTestId('kind-core/v1/configmaps')).not.toBeInTheDocument();
    await user.click(screen.getByTestId('kind-example.com/v1/widgets'));

    const table = await screen.findByTestId('resources-table');
    const headers = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toEqual(['Namespace', 'Name', 'Size', 'Color', 'Age']); // priority 1 (wide) hidden
    expect(screen.getByTestId('resource-row-shop-w1')).toHaveTextContent('red');
    expect(within(screen.getByTestId('resource-row-shop-w1')).getByRole('button', { name: 'w1' })).toBeInTheDocument();
    expect(screen.getByTestId('resource-source')).toHaveAttribute('data-source', 'live');
    expect(screen.getByTestId('location')).toHaveTextContent('kind=example.com%2Fv1%2Fwidgets');

    await user.click(screen.getByTestId('page-next'));
    expect(await screen.findByTestId('resource-row-shop-w3')).toBeInTheDocument();
    expect(new URL(seen.at(-1)!.url).searchParams.get('continue')).toBe('page-2');
    await user.click(screen.getByTestId('page-previous'));
    await user.click(await screen.findByTestId('resource-row-shop-w2'));

    const yaml = await screen.findByTestId('resource-yaml');
    expect(yaml).toHaveTextContent('kind: Widget');
    expect(yaml).toHaveTextContent('size: 2');
    expect(screen.getByTestId('location')).toHaveTextContent('object=w2&objectNamespace=shop');
    // the object's own page, where it can be edited and acted on; each row has its actions menu
    expect(screen.getByTestId('resource-object-open')).toHaveAttribute('href', '/clusters/1/objects/example.com/v1/widgets/w2?namespace=shop');
    expect(within(screen.getByTestId('resource-row-shop-w2')).getByTestId('object-actions-button')).toBeInTheDocument();

    await user.selectOptions(screen.getByTestId('resource-namespace'), 'blog');
    await waitFor(() => {
      const last = new URL(seen.filter((r) => r.url.includes('/widgets/?')).at(-1)!.url);
      expect(last.searchParams.get('namespace')).toBe('blog');
    });
    await user.type(screen.getByTestId('resource-label-selector'), 'app=shop{Enter}');
    await waitFor(() => {
      const last = new URL(seen.filter((r) => r.url.includes('/widgets/?')).at(-1)!.url);
      expect(last.searchParams.get('labelSelector')).toBe('app=shop');
    });
  });

  it('shows a Secret with its key names and no values', async () => {
    mockFetch({
      'GET /api/clusters/1/resources/': () => json(KINDS),
      'GET /api/clusters/1/resources/core/v1/namespaces/': () => json(NAMESPACES),
      'GET /api/clusters/1/resources/core/v1/secrets/': () =>
        json({
          source: 'live',
          resource: KINDS.resources[1],
          columns: [
            { name: 'Name', type: 'string', format: 'name', priority: 0, description: '' },
            { name: 'Type', type: 'string', format: '', priority: 0, description: '' },
            { name: 'Data', type: 'string', format: '', priority: 0, description: '' },
          ],
          rows: [{ name: 'db', namespace: 'shop', cells: ['db', 'Opaque', 2], labels: {} }],
          continue: '',
          remaining: null,
          freshness: null,
        }),
      'GET /api/clusters/1/resources/core/v1/secrets/db/': () =>
        json({
          source: 'live',
          resource: KINDS.resources[1],
          object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop' }, type: 'Opaque' },
          secret_keys: ['password', 'user'],
        }),
    });
    renderAt(<ResourcesTab clusterId={1} />, {
      queryClient: testQueryClient(adminUser),
      route: '/?kind=core%2Fv1%2Fsecrets&object=db&objectNamespace=shop',
    });
    const keys = await screen.findByTestId('secret-keys');
    expect(keys).toHaveTextContent('password');
    expect(keys).toHaveTextContent('user');
    expect(keys).toHaveTextContent('Secret values are never shown here.');
    expect(await screen.findByTestId('resource-yaml')).toHaveTextContent('type: Opaque');
  });

  it('says how fresh a read-model page is', async () => {
    mockFetch({
      'GET /api/clusters/1/resources/': () => json(KINDS),
      'GET /api/clusters/1/resources/core/v1/namespaces/': () => json(NAMESPACES),
      'GET /api/clusters/1/resources/core/v1/pods/': () =>
        json({
          source: 'read_model',
          resource: KINDS.resources[2],
          columns: [
            { name: 'Name', type: 'string', format: 'name', priority: 0, description: '' },
            { name: 'Namespace', type: 'string', format: '', priority: 0, description: '' },
            { name: 'Status', type: 'string', format: '', priority: 0, description: '' },
            { name: 'Age', type: 'date', format: '', priority: 0, description: '' },
          ],
          rows: [{ name: 'web-1', namespace: 'shop', cells: ['web-1', 'shop', 'Running', '2020-01-01T00:00:00+00:00'], labels: {} }],
          continue: '',
          remaining: null,
          freshness: { state: 'stale', last_event: null },
        }),
    });
    renderAt(<ResourcesTab clusterId={1} />, { queryClient: testQueryClient(adminUser), route: '/?kind=core%2Fv1%2Fpods' });
    expect(await screen.findByTestId('list-freshness')).toHaveAttribute('data-state', 'stale');
    expect(screen.getByTestId('resource-source')).toHaveAttribute('data-source', 'read_model');
    const row = screen.getByTestId('resource-row-shop-web-1');
    expect(row).toHaveTextContent('Running');
    expect(row).not.toHaveTextContent('2020-01-01'); // a date column is shown as an age
    expect(within(screen.getByTestId('resources-table')).getAllByRole('columnheader')).toHaveLength(4);
  });

  it('says why only read-model kinds are listed, and shows a live error with its message', async () => {
    mockFetch({
      'GET /api/clusters/1/resources/': () =>
        json({
          resources: [KINDS.resources[2]],
          discovery_error: { status: 503, code: 'connection_refused', detail: 'The API server refused the connection.' },
        }),
      'GET /api/clusters/1/resources/core/v1/namespaces/': () => json(NAMESPACES),
      'GET /api/clusters/1/resources/core/v1/configmaps/': () =>
        json({ detail: 'The cluster could not be reached while listing configmaps.', code: 'connection_refused' }, { status: 503 }),
    });
    renderAt(<ResourcesTab clusterId={1} />, { queryClient: testQueryClient(adminUser), route: '/?kind=core%2Fv1%2Fconfigmaps' });
    expect(await screen.findByTestId('discovery-error')).toHaveTextContent('refused the connection');
    expect(await screen.findByRole('alert')).toHaveTextContent('could not be reached');
  });
});
