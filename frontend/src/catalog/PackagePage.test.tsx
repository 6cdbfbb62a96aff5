import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { page } from '../test/clusters';
import { pkgDetail, version } from '../test/catalog';
import { serviceMap } from '../test/workspaces';
import { json, mockFetch, renderAt } from '../test/utils';
import { PackagePage } from './PackagePage';

describe('PackagePage', () => {
  it('shows versions, the readme as text, defaults, and renders the objects for a service map', async () => {
    const seen = mockFetch({
      'GET /api/catalog/packages/5/': () => json(pkgDetail(5, { name: 'shop' })),
      'GET /api/catalog/versions/11/': () => json(version(11)),
      'GET /api/workspaces/servicemaps/': () => json(page([serviceMap(7)])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/catalog/versions/11/render/': () =>
        json({ objects: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'preview-web', namespace: 'shop-7' }], manifest: '' }),
    });
    renderAt(<PackagePage />, { route: '/catalog/packages/5', path: '/catalog/packages/:id' });
    expect(await screen.findByTestId('version-row-1.0.0')).toBeInTheDocument();
    const readme = await screen.findByTestId('package-readme');
    expect(readme.tagName).toBe('PRE');
    expect(readme).toHaveTextContent('<script>alert(1)</script>'); // text, never HTML
    expect(document.querySelector('script')).toBeNull();
    expect(screen.getByTestId('package-defaults')).toHaveTextContent('replicas: 1');
    expect(screen.getByTestId('deploy-package')).toHaveAttribute('href', '/catalog/packages/5/deploy?version=11');

    const user = userEvent.setup();
    await user.clear(screen.getByTestId('value-replicas'));
    await user.type(screen.getByTestId('value-replicas'), '3');
    await user.selectOptions(await screen.findByTestId('render-servicemap'), '7');
    await user.click(screen.getByTestId('render-submit'));
    const objects = await screen.findByTestId('render-objects');
    expect(within(objects).getByTestId('render-object-Deployment-preview-web')).toBeInTheDocument();
    const post = seen.find((r) => r.method === 'POST')!;
    expect(await post.json()).toEqual({ values: { replicas: 3 }, service_map: 7 });
  });

  it('warns when the chart calls Helm lookup, naming the templates', async () => {
    mockFetch({
      'GET /api/catalog/packages/5/': () => json(pkgDetail(5, { name: 'shop' })),
      'GET /api/catalog/versions/11/': () => json(version(11, { lookup_templates: ['templates/secret.yaml'] })),
      'GET /api/workspaces/servicemaps/': () => json(page([serviceMap(7)])),
    });
    renderAt(<PackagePage />, { route: '/catalog/packages/5', path: '/catalog/packages/:id' });
    const warning = await screen.findByTestId('lookup-warning');
    expect(warning).toHaveTextContent("This chart calls Helm's lookup");
    expect(warning).toHaveTextContent('templates/secret.yaml');
  });
});
