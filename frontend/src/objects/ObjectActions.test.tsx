import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import i18n from 'i18next';
import { describe, expect, it } from 'vitest';
import { allowAll, deny, objectAction, objectDetail } from '../test/objects';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ObjectActions, actionsFor, specValue } from './ObjectActions';
import type { ObjectDetail } from './types';

const ref = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespace: 'shop', name: 'web' };
const BASE = '/api/clusters/1/objects/apps/v1/deployments/web/';

function render(detail?: ObjectDetail, objectRef = ref) {
  return renderAt(<ObjectActions clusterId={1} objectRef={objectRef} detail={detail} />, { queryClient: testQueryClient(adminUser) });
}

describe('ObjectActions', () => {
  it('shows an action the user may not use disabled with the reason, and one they may use enabled', async () => {
    mockFetch({});
    const user = userEvent.setup();
    render(objectDetail({ permissions: deny(deny(allowAll(), 'objects.edit'), 'workloads.scale') }));
    await user.click(screen.getByTestId('object-actions-button'));
    const edit = screen.getByTestId('action-edit');
    expect(edit).toBeDisabled();
    expect(edit).toHaveTextContent('Your role in workspace team-a does not grant objects.edit');
    expect(edit).toHaveAttribute('data-reason', expect.stringContaining('objects.edit') as string);
    expect(screen.getByTestId('action-scale')).toBeDisabled();
    expect(screen.getByTestId('action-restart')).toBeEnabled();
    expect(screen.getByTestId('action-restart')).not.toHaveAttribute('data-reason');
    expect(screen.getByTestId('action-delete')).toBeEnabled();
  }, 20_000);

  it("needs secrets.reveal besides objects.edit to edit a Secret's YAML", async () => {
    mockFetch({});
    const user = userEvent.setup();
    render(objectDetail({ kind: 'Secret', api_version: 'v1', permissions: deny(allowAll(), 'secrets.reveal') }), {
      ...ref,
      group: 'core',
      plural: 'secrets',
      kind: 'Secret',
    });
    await user.click(screen.getByTestId('object-actions-button'));
    expect(screen.getByTestId('action-edit')).toBeDisabled();
    expect(screen.getByTestId('action-edit')).toHaveAttribute('data-reason', expect.stringContaining('secrets.reveal') as string);
    expect(screen.getByTestId('action-delete')).toBeEnabled();
  }, 20_000);

  it('translates the reason by its code', async () => {
    mockFetch({});
    const user = userEvent.setup();
    await i18n.changeLanguage('ko');
    try {
      render(objectDetail({ permissions: deny(allowAll(), 'objects.edit') }));
      await user.click(screen.getByTestId('object-actions-button'));
      expect(screen.getByTestId('action-edit')).toHaveAttribute('data-reason', expect.stringContaining('team-a') as string);
      expect(screen.getByTestId('action-edit').getAttribute('data-reason')).not.toContain('Your role');
    } finally {
      await i18n.changeLanguage('en');
    }
  }, 20_000);

  it('leaves out the actions that do not apply to the kind', async () => {
    expect(actionsFor('ConfigMap', null)).toEqual(['edit', 'delete']);
    expect(actionsFor('DaemonSet', null)).toEqual(['edit', 'restart', 'rollback', 'delete']);
    expect(actionsFor('Deployment', true)).toEqual(['edit', 'scale', 'restart', 'resume', 'rollback', 'delete']);
    expect(actionsFor('Deployment', false)).toEqual(['edit', 'scale', 'restart', 'pause', 'rollback', 'delete']);
    expect(specValue('spec:\n  replicas: 4\n  template:\n    spec:\n      replicas: 9\n', 'replicas')).toBe('4');

    mockFetch({});
    const user = userEvent.setup();
    render(objectDetail({ kind: 'ConfigMap', api_version: 'v1', yaml: 'data: {}\n' }), { ...ref, group: 'core', plural: 'configmaps', kind: 'ConfigMap' });
    await user.click(screen.getByTestId('object-actions-button'));
    expect(screen.getByRole('menu').querySelectorAll('[role=menuitem]')).toHaveLength(2);
    expect(screen.queryByTestId('action-scale')).not.toBeInTheDocument();
  }, 20_000);

  it('on a row, reads the object when opened and then shows what the user may do', async () => {
    const seen = mockFetch({
      [`GET ${BASE}`]: () => json(objectDetail({ permissions: deny(allowAll(), 'workloads.restart') })),
    });
    const user = userEvent.setup();
    render();
    expect(seen).toHaveLength(0); // nothing read before the menu opens
    await user.click(screen.getByTestId('object-actions-button'));
    await waitFor(() => expect(screen.getByTestId('action-restart')).toHaveAttribute('data-reason', expect.stringContaining('workloads.restart') as string));
    expect(new URL(seen[0]!.url).searchParams.get('namespace')).toBe('shop');
    expect(screen.getByTestId('action-edit')).toHaveAttribute('href', '/clusters/1/objects/apps/v1/deployments/web?namespace=shop&tab=yaml');
  }, 20_000);

  it('restarts after confirmation and follows the action', async () => {
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      [`POST ${BASE}restart/`]: () => json(objectAction({ action: 'restart', status: 'pending' }), { status: 202 }),
      'GET /api/clusters/actions/7/': () =>
        json(objectAction({ action: 'restart', status: 'succeeded', message: 'Deployment web restarts its pods.' })),
    });
    const user = userEvent.setup();
    render(objectDetail());
    await user.click(screen.getByTestId('object-actions-button'));
    await user.click(screen.getByTestId('action-restart'));
    const dialog = screen.getByTestId('restart-dialog');
    expect(dialog).toHaveTextContent('kubectl rollout restart');
    await user.click(within(dialog).getByTestId('restart-submit'));
    await waitFor(() => expect(screen.queryByTestId('restart-dialog')).not.toBeInTheDocument());
    expect(seen.some((r) => r.method === 'POST' && r.url.includes('/restart/'))).toBe(true);
    const status = await screen.findByTestId('action-status');
    await waitFor(() => expect(status).toHaveAttribute('data-status', 'succeeded'), { timeout: 4000 });
    expect(status).toHaveTextContent('Deployment web restarts its pods.');
  }, 20_000);

  it('scales within bounds only', async () => {
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      [`POST ${BASE}scale/`]: () => json(objectAction({ action: 'scale' }), { status: 202 }),
      'GET /api/clusters/actions/7/': () => json(objectAction({ action: 'scale', status: 'running' })),
    });
    const user = userEvent.setup();
    render(objectDetail());
    await user.click(screen.getByTestId('object-actions-button'));
    await user.click(screen.getByTestId('action-scale'));
    const input = screen.getByTestId('scale-replicas');
    expect(input).toHaveValue(1); // from the live spec
    await user.clear(input);
    await user.type(input, '1001');
    expect(screen.getByTestId('scale-submit')).toBeDisabled();
    expect(input).toHaveAttribute('aria-invalid', 'true');
    await user.clear(input);
    await user.type(input, '3');
    await user.click(screen.getByTestId('scale-submit'));
    await waitFor(() => expect(seen.some((r) => r.url.includes('/scale/'))).toBe(true));
    expect(await seen.find((r) => r.url.includes('/scale/'))!.json()).toEqual({ replicas: 3 });
  }, 20_000);

  it('shows the revisions to roll back to and posts the chosen one', async () => {
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      [`GET ${BASE}revisions/`]: () =>
        json({
          revisions: [
            { revision: 3, name: 'web-7d9', created: '2026-12-01T00:00:00Z', images: ['nginx:1.27'], current: true },
            { revision: 2, name: 'web-5c4', created: '2026-11-30T00:00:00Z', images: ['nginx:1.26'], current: false },
          ],
        }),
      [`POST ${BASE}rollback/`]: () => json(objectAction({ action: 'rollback' }), { status: 202 }),
      'GET /api/clusters/actions/7/': () => json(objectAction({ action: 'rollback', status: 'running' })),
    });
    const user = userEvent.setup();
    render(objectDetail());
    await user.click(screen.getByTestId('object-actions-button'));
    await user.click(screen.getByTestId('action-rollback'));
    const current = await screen.findByTestId('revision-3');
    expect(within(current).getByRole('radio')).toBeDisabled();
    expect(screen.getByTestId('rollback-submit')).toBeDisabled();
    await user.click(within(screen.getByTestId('revision-2')).getByRole('radio'));
    await user.click(screen.getByTestId('rollback-submit'));
    await waitFor(() => expect(seen.some((r) => r.url.includes('/rollback/'))).toBe(true));
    expect(await seen.find((r) => r.url.includes('/rollback/'))!.json()).toEqual({ revision: 2 });
  }, 20_000);
});

describe('Delete dialog', () => {
  it('names the object and what it owns, asks for the name and the cascade, and warns about the release', async () => {
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      [`GET ${BASE}dependents/`]: () =>
        json({ dependents: [{ kind: 'ReplicaSet', namespace: 'shop', name: 'web-7d9' }, { kind: 'Pod', namespace: 'shop', name: 'web-7d9-abcde' }], protected_by_service_map: null }),
      [`POST ${BASE}delete/`]: () => json(objectAction({ action: 'delete' }), { status: 202 }),
      'GET /api/clusters/actions/7/': () => json(objectAction({ action: 'delete', status: 'running' })),
    });
    const user = userEvent.setup();
    render(objectDetail({ owner_release: { id: 42, name: 'web-prod', service_map_id: 3 } }));
    await user.click(screen.getByTestId('object-actions-button'));
    await user.click(screen.getByTestId('action-delete'));
    const dialog = screen.getByTestId('type-confirm-dialog');
    expect(dialog).toHaveTextContent('Deployment shop/web will be deleted');
    expect(within(dialog).getByTestId('owner-release-warning')).toHaveTextContent('web-prod');
    expect(within(dialog).getByTestId('owner-release-link')).toHaveAttribute('href', '/releases/42');
    const owned = await within(dialog).findByText(/ReplicaSet shop\/web-7d9$/);
    expect(owned).toBeInTheDocument();
    expect(dialog).toHaveTextContent('It owns 2 objects');

    const submit = screen.getByTestId('type-confirm-submit');
    expect(submit).toBeDisabled();
    await user.type(screen.getByTestId('type-confirm-input'), 'we');
    expect(submit).toBeDisabled();
    await user.type(screen.getByTestId('type-confirm-input'), 'b');
    expect(submit).toBeEnabled();
    expect(screen.getByTestId('cascade-Background')).toBeChecked();
    await user.click(screen.getByTestId('cascade-Foreground'));
    await user.click(submit);
    await waitFor(() => expect(seen.some((r) => r.url.includes('/delete/'))).toBe(true));
    expect(await seen.find((r) => r.url.includes('/delete/'))!.json()).toEqual({ confirm: 'web', propagation: 'Foreground' });
    expect(await screen.findByTestId('action-status')).toHaveAttribute('data-action', 'delete');
  }, 20_000);

  it('shows the refusal when the server protects the namespace', async () => {
    mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'GET /api/clusters/1/objects/core/v1/namespaces/shop/dependents/': () => json({ dependents: [], protected_by_service_map: 'Shop' }),
      'POST /api/clusters/1/objects/core/v1/namespaces/shop/delete/': () =>
        json({ detail: 'Namespace shop holds the service map Shop; delete the service map instead.', code: 'namespace_protected' }, { status: 400 }),
    });
    const user = userEvent.setup();
    render(objectDetail({ kind: 'Namespace', namespace: '', name: 'shop' }), { group: 'core', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespace: '', name: 'shop' });
    await user.click(screen.getByTestId('object-actions-button'));
    await user.click(screen.getByTestId('action-delete'));
    expect(await screen.findByTestId('delete-protected')).toHaveTextContent('Shop');
    await user.type(screen.getByTestId('type-confirm-input'), 'shop');
    await user.click(screen.getByTestId('type-confirm-submit'));
    expect(await screen.findByRole('alert')).toHaveTextContent('holds the service map Shop');
  }, 20_000);
});
