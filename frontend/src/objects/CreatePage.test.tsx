import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { clusterDetail } from '../test/clusters';
import { deepQueryAll, objectAction, setText } from '../test/objects';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { CreatePage, joinDocuments } from './CreatePage';
import type { DocumentPreview } from './types';

const TWO = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: fast
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports:
  - port: 80
`;

function doc(index: number, overrides: Partial<DocumentPreview> = {}): DocumentPreview {
  return {
    index,
    api_version: 'v1',
    kind: index === 0 ? 'ConfigMap' : 'Service',
    namespace: 'shop',
    name: index === 0 ? 'settings' : 'web',
    exists: false,
    changed: true,
    diff: '--- live\n+++ applied\n+kind: ConfigMap\n',
    conflicts: [],
    errors: [],
    ...overrides,
  };
}

describe('CreatePage', () => {
  it('previews each document, holds back while one has errors, then applies and shows per-document results', async () => {
    let previews = 0;
    const seen = mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/clusters/1/objects/preview/': () => {
        previews += 1;
        return json({
          documents:
            previews === 1
              ? [doc(0), doc(1, { errors: [{ field: 'spec.ports[0].port', line: 15, message: 'Required value' }] })]
              : [doc(0), doc(1, { exists: true, live_yaml: 'kind: Service\n', result_yaml: 'kind: Service\nspec: {}\n' })],
        });
      },
      'POST /api/clusters/1/objects/create/': () => json(objectAction({ action: 'create', kind: '', name: '', status: 'pending' }), { status: 202 }),
      'GET /api/clusters/actions/7/': () =>
        json(
          objectAction({
            action: 'create',
            status: 'failed',
            message: '1 of 2 documents failed.',
            result: {
              documents: [
                { index: 0, kind: 'ConfigMap', namespace: 'shop', name: 'settings', status: 'created', message: 'created' },
                { index: 1, kind: 'Service', namespace: 'shop', name: 'web', status: 'failed', message: 'The cluster refused it.', errors: [{ field: 'spec.ports[0].port', message: 'Required value' }] },
              ],
            },
          }),
        ),
    });
    const user = userEvent.setup();
    renderAt(<CreatePage />, { route: '/clusters/1/create', path: '/clusters/:id/create', queryClient: testQueryClient(adminUser) });
    const editor = await screen.findByTestId('create-editor');
    expect(screen.getByTestId('create-preview')).toBeDisabled();
    act(() => setText(editor, TWO));
    await user.click(screen.getByTestId('create-preview'));

    const docs = await screen.findByTestId('create-docs');
    expect(within(docs).getByTestId('create-doc-0')).toHaveAttribute('data-verdict', 'create');
    expect(within(docs).getByTestId('create-doc-1')).toHaveAttribute('data-verdict', 'error');
    expect(within(docs).getByTestId('create-doc-1-errors')).toHaveTextContent('spec.ports[0].port: Required value');
    expect(screen.getByTestId('create-apply')).toBeDisabled();
    expect((await seen.find((r) => r.url.endsWith('/objects/preview/'))!.json()) as unknown).toEqual({ yaml: TWO });

    // A changed text must be previewed again before it can be applied.
    act(() => setText(editor, TWO.replace('- port: 80', '- port: 80\n    targetPort: 8080')));
    expect(screen.getByTestId('create-apply')).toBeDisabled();
    await user.click(screen.getByTestId('create-preview'));
    await waitFor(() => expect(screen.getByTestId('create-doc-1')).toHaveAttribute('data-verdict', 'update'));
    await waitFor(() => expect(deepQueryAll(screen.getByTestId('create-doc-1-diff'), '.cm-editor')).toHaveLength(2));
    expect(screen.getByTestId('create-apply')).toBeEnabled();

    await user.click(screen.getByTestId('create-apply'));
    await waitFor(() => expect(seen.some((r) => r.url.endsWith('/objects/create/'))).toBe(true));
    expect(await seen.find((r) => r.url.endsWith('/objects/create/'))!.json()).toEqual({ yaml: expect.stringContaining('targetPort: 8080') as string, force: false });
    const results = await screen.findByTestId('create-results');
    await waitFor(() => expect(results).toHaveAttribute('data-status', 'failed'));
    expect(within(results).getByTestId('create-result-0')).toHaveAttribute('data-status', 'created');
    expect(within(results).getByTestId('create-result-0').querySelector('a')).toHaveAttribute(
      'href',
      '/clusters/1/objects/core/v1/configmaps/settings?namespace=shop',
    );
    expect(within(results).getByTestId('create-result-1')).toHaveAttribute('data-status', 'failed');
    expect(within(results).getByTestId('create-result-1')).toHaveTextContent('spec.ports[0].port: Required value');
  }, 20_000);

  it('marks a document that does not parse at its line', async () => {
    mockFetch({
      'GET /api/clusters/1/': () => json(clusterDetail(1)),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/clusters/1/objects/preview/': () =>
        json({ detail: 'The YAML does not parse.', code: 'yaml_invalid', params: { lines: [{ line: 2, message: 'could not find expected \':\'' }] }, errors: { yaml: ['could not find expected \':\''] } }, { status: 400 }),
    });
    const user = userEvent.setup();
    renderAt(<CreatePage />, { route: '/clusters/1/create', path: '/clusters/:id/create', queryClient: testQueryClient(adminUser) });
    const editor = await screen.findByTestId('create-editor');
    act(() => setText(editor, 'kind: ConfigMap\nmetadata\n  name: x\n'));
    await user.click(screen.getByTestId('create-preview'));
    expect(await screen.findByTestId('yaml-error-0')).toHaveAttribute('data-line', '2');
    expect(screen.queryByTestId('create-docs')).not.toBeInTheDocument();
    expect(screen.getByTestId('create-apply')).toBeDisabled();
  }, 20_000);

  it('joins uploaded files into one stream of documents', () => {
    expect(joinDocuments(['', 'a: 1\n', '---\nb: 2\n\n'])).toBe('---\na: 1\n---\nb: 2');
  }, 20_000);
});
