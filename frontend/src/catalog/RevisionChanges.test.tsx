import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { releaseDetail, revision } from '../test/catalog';
import { intent } from '../test/intents';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ReleasePage } from './ReleasePage';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

describe('what a revision changed (issue 22)', () => {
  it('says a config-only upgrade did not restart the pods, and restarts them through the Config API', async () => {
    const seen = mockFetch({
      'GET /api/catalog/releases/4/': () =>
        json(releaseDetail(4, [revision(2, { status: 'deployed' }), revision(1, { status: 'superseded' })], { status: 'deployed', revision: 2, deployed_revision: 2 })),
      'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'custom', my_grants: ['config.edit'] })),
      'GET /api/catalog/releases/4/revisions/2/': () =>
        json({ ...revision(2), manifest: '', resources: [], changes: [
          { object: 'ConfigMap/shop-config', change: 'changed', users: [{ workload: 'Deployment/shop-web', restarted: false }] },
          { object: 'Service/shop-web', change: 'removed' },
        ] }),
      'GET /api/catalog/releases/4/diff/': () => json({ diff: '' }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'GET /api/catalog/configs/7/ConfigMap/shop-config/': () => json({ kind: 'ConfigMap', name: 'shop-config', type: '', data: { message: '반갑습니다' }, revealed: false }),
      'PUT /api/catalog/configs/7/ConfigMap/shop-config/': () => intent({ version: 2, restarted: ['Deployment/shop-web'] }),
    });
    renderAt(<ReleasePage />, { route: '/releases/4', path: '/releases/:id', queryClient: testQueryClient(dev) });
    const panel = await screen.findByTestId('revision-changes');
    expect(within(panel).getByTestId('change-Service/shop-web')).toHaveAttribute('data-change', 'removed');
    expect(within(panel).getByTestId('user-Deployment/shop-web')).toHaveAttribute('data-restarted', 'false');
    await userEvent.setup().click(within(panel).getByTestId('restart-users-ConfigMap/shop-config'));
    await waitFor(() => expect(within(panel).getByTestId('restarted-ConfigMap/shop-config')).toHaveTextContent('Deployment/shop-web'));
    const put = seen.find((r) => r.method === 'PUT')!;
    expect(await put.json()).toMatchObject({ data: { message: '반갑습니다' }, restart: true });
  });
});
