import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { podRow } from '../../test/clusters';
import { allowAll, deny, objectAction, objectDetail } from '../../test/objects';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../../test/utils';
import { PodsTab } from './PodsTab';

const fresh = { freshness: { state: 'live', last_event: null } };
const POD = '/api/clusters/1/objects/core/v1/pods/web-2/';

function podDetail(permissions = allowAll()) {
  return objectDetail({ api_version: 'v1', kind: 'Pod', namespace: 'web', name: 'web-2', yaml: 'spec:\n  containers: []\n', permissions });
}

function render() {
  return renderAt(<PodsTab clusterId={1} />, { route: '/clusters/1/pods', path: '/clusters/:id/pods', queryClient: testQueryClient(adminUser) });
}

describe('PodsTab actions column', () => {
  it('gives every row a menu that reads nothing until it is opened', async () => {
    const rows = Array.from({ length: 400 }, (_, i) => podRow('web', `web-${i}`));
    const seen = mockFetch({ 'GET /api/clusters/1/pods/': () => json({ next: null, previous: null, results: rows, ...fresh }) });
    render();
    const row = await screen.findByTestId('pod-row-web/web-0');
    // The header has a column for the menu, as the rows have a cell for it.
    const head = screen.getByTestId('pods-list').querySelector('thead tr')!;
    expect(head.querySelectorAll('th[scope=col]')).toHaveLength(row.querySelectorAll('td').length);
    expect(head).toHaveTextContent('Actions');
    expect(within(row).getByTestId('object-actions-button')).toBeInTheDocument();
    // Still windowed: only the rows in view are in the DOM, and none of their menus asked the server.
    expect(screen.getAllByTestId('object-actions-button').length).toBeLessThan(40);
    expect(seen.filter((r) => r.url.includes('/objects/'))).toHaveLength(0);
  }, 20_000);

  it('offers Edit YAML, Logs, Terminal and Delete, disabled with the reason where the pod permissions deny them', async () => {
    const seen = mockFetch({
      'GET /api/clusters/1/pods/': () => json({ next: null, previous: null, results: [podRow('web', 'web-1'), podRow('web', 'web-2')], ...fresh }),
      [`GET ${POD}`]: () => json(podDetail(deny(deny(allowAll(), 'pods.exec'), 'objects.delete'))),
    });
    const user = userEvent.setup();
    render();
    const row = await screen.findByTestId('pod-row-web/web-2');
    await user.click(within(row).getByTestId('object-actions-button'));
    await waitFor(() => expect(screen.getByTestId('action-delete')).toHaveAttribute('data-reason', expect.stringContaining('objects.delete') as string));
    const objectReads = seen.filter((r) => r.url.includes('/objects/'));
    expect(objectReads).toHaveLength(1); // only the opened row's pod
    expect(new URL(objectReads[0]!.url).searchParams.get('namespace')).toBe('web');
    const menu = screen.getByRole('menu');
    expect(Array.from(menu.querySelectorAll('[role=menuitem]')).map((e) => e.getAttribute('data-testid'))).toEqual([
      'action-edit',
      'action-link-logs',
      'action-link-terminal',
      'action-delete',
    ]);
    expect(screen.getByTestId('action-edit')).toHaveAttribute('href', '/clusters/1/objects/core/v1/pods/web-2?namespace=web&tab=yaml');
    expect(screen.getByTestId('action-link-logs')).toHaveAttribute('href', '/clusters/1/pods/web/web-2#pod-logs');
    expect(screen.getByTestId('action-link-terminal')).toBeDisabled();
    expect(screen.getByTestId('action-link-terminal')).toHaveAttribute('data-reason', expect.stringContaining('pods.exec') as string);
    expect(screen.getByTestId('action-delete')).toBeDisabled();
    // Escape closes the menu, as on the other rows.
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('menu')).not.toBeInTheDocument();
  }, 20_000);

  it('deletes a pod after its name is typed and follows the action above the list', async () => {
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'GET /api/clusters/1/pods/': () => json({ next: null, previous: null, results: [podRow('web', 'web-1'), podRow('web', 'web-2')], ...fresh }),
      [`GET ${POD}`]: () => json(podDetail()),
      [`GET ${POD}dependents/`]: () => json({ dependents: [], total: 0, protected_by_service_map: null }),
      [`POST ${POD}delete/`]: () =>
        json(objectAction({ id: 9, group: 'core', plural: 'pods', kind: 'Pod', namespace: 'web', name: 'web-2', action: 'delete' }), { status: 202 }),
      'GET /api/clusters/actions/9/': () =>
        json(objectAction({ id: 9, group: 'core', plural: 'pods', kind: 'Pod', namespace: 'web', name: 'web-2', action: 'delete', status: 'succeeded' })),
    });
    const user = userEvent.setup();
    render();
    const row = await screen.findByTestId('pod-row-web/web-2');
    await user.click(within(row).getByTestId('object-actions-button'));
    await waitFor(() => expect(screen.getByTestId('action-delete')).toBeEnabled());
    await user.click(screen.getByTestId('action-delete'));
    const dialog = screen.getByTestId('type-confirm-dialog');
    expect(dialog).toHaveTextContent('Pod web/web-2');
    expect(within(dialog).getByTestId('type-confirm-submit')).toBeDisabled();
    await user.type(within(dialog).getByTestId('type-confirm-input'), 'web-1');
    expect(within(dialog).getByTestId('type-confirm-submit')).toBeDisabled();
    await user.clear(within(dialog).getByTestId('type-confirm-input'));
    await user.type(within(dialog).getByTestId('type-confirm-input'), 'web-2');
    await user.click(within(dialog).getByTestId('type-confirm-submit'));
    await waitFor(() => expect(screen.queryByTestId('type-confirm-dialog')).not.toBeInTheDocument());
    const post = seen.find((r) => r.method === 'POST' && r.url.includes('/delete/'))!;
    expect(new URL(post.url).searchParams.get('namespace')).toBe('web');
    expect(await post.json()).toEqual({ confirm: 'web-2', propagation: 'Background' });
    // The status is followed above the list, not inside the 36-pixel row.
    const followed = screen.getByTestId('pod-actions-followed');
    const status = within(followed).getByTestId('action-status');
    expect(within(row).queryByTestId('action-status')).not.toBeInTheDocument();
    await waitFor(() => expect(status).toHaveAttribute('data-status', 'succeeded'), { timeout: 4000 });
    expect(status).toHaveTextContent('web-2');
    await user.click(within(status).getByTestId('action-status-dismiss'));
    expect(screen.queryByTestId('pod-actions-followed')).not.toBeInTheDocument();
  }, 20_000);
});
