import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { workspace } from '../test/workspaces';
import { finishedIntent, intent, pendingIntent } from '../test/intents';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ConfigTab } from './ConfigTab';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };
const base = '/api/catalog/configs/7/';

function render(grants: string[], route = '/workspaces/1/servicemaps/7/config', extra: Record<string, (r: Request) => Response | Promise<Response>> = {}) {
  const seen = mockFetch({
    'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'custom', my_grants: grants })),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    [`GET ${base}`]: () =>
      json([
        { kind: 'ConfigMap', name: 'app-config', keys: ['mode'], type: '', version: 2, created: '2026-11-21T10:00:00Z', managed_by: 'cluster-portal' },
        { kind: 'Secret', name: 'db', keys: ['password', 'user'], type: 'Opaque', version: 1, created: '2026-11-21T10:00:00Z', managed_by: 'cluster-portal' },
      ]),
    [`GET ${base}Secret/db/`]: (r) =>
      new URL(r.url).searchParams.get('reveal') === 'true'
        ? json({ kind: 'Secret', name: 'db', type: 'Opaque', data: { password: 's3cret', user: 'shop' }, revealed: true, version: 1, used_by: [] })
        : json({ kind: 'Secret', name: 'db', type: 'Opaque', data: { password: null, user: null }, revealed: false, version: 1, used_by: ['Deployment/web'] }),
    [`GET ${base}Secret/db/versions/`]: () => json([{ version: 1, keys: ['password', 'user'], message: '', restarted: [], created: '2026-11-21T10:00:00Z', created_by: 'dev' }]),
    [`PUT ${base}Secret/db/`]: () => intent({ version: 2, restarted: ['Deployment/web'] }),
    ...extra,
  });
  renderAt(<ConfigTab serviceMapId={7} />, { route, path: '/workspaces/:id/servicemaps/:sid/:tab?', queryClient: testQueryClient(dev) });
  return seen;
}

describe('ConfigTab', () => {
  it('lists configs and creates a ConfigMap from key/value rows; a refused intent shows as a 409', async () => {
    let posts = 0;
    const seen = render(['config.edit'], undefined, {
      // the first creation is refused by the task (the name is taken): the console follows the intent
      [`POST ${base}`]: () => (++posts === 1 ? pendingIntent(41) : intent({ version: 1, restarted: [] })),
      'GET /api/catalog/intents/41/': () =>
        finishedIntent(41, { status: 'failed', message: 'ConfigMap web-env exists already in shop-7; edit it instead.', message_code: 'config_exists' }),
      [`GET ${base}ConfigMap/web-env/`]: () => json({ kind: 'ConfigMap', name: 'web-env', type: '', data: { A: '1' }, revealed: true, version: 1, used_by: [] }),
      [`GET ${base}ConfigMap/web-env/versions/`]: () => json([]),
    });
    const user = userEvent.setup();
    expect(await screen.findByTestId('config-row-ConfigMap-app-config')).toHaveAttribute('data-version', '2');
    await user.click(screen.getByTestId('create-config'));
    const dialog = screen.getByTestId('config-dialog');
    await user.type(within(dialog).getByRole('textbox', { name: 'Name' }), 'web-env');
    await user.type(within(dialog).getByTestId('config-key-0'), 'A');
    await user.type(within(dialog).getByTestId('config-value-0'), '1');
    await user.click(screen.getByTestId('config-create-submit'));
    expect(await within(dialog).findByTestId('config-error')).toHaveAttribute('data-status', '409');
    await user.click(screen.getByTestId('config-create-submit'));
    expect(await screen.findByTestId('config-editor')).toHaveAttribute('data-name', 'web-env');
    const post = seen.filter((r) => r.method === 'POST').at(-1)!;
    expect(await post.json()).toEqual({ kind: 'ConfigMap', name: 'web-env', data: { A: '1' }, message: '' });
  });

  it('hides secret values without secrets.reveal and sends null for keys left alone', async () => {
    const seen = render(['config.edit'], '/workspaces/1/servicemaps/7/config?config=Secret%2Fdb');
    const user = userEvent.setup();
    const editor = await screen.findByTestId('config-editor');
    expect(await within(editor).findByTestId('secret-hidden-0')).toHaveTextContent('•••• (hidden)');
    expect(within(editor).getByTestId('secret-hidden-1')).toBeInTheDocument();
    expect(within(editor).queryByTestId('reveal-secret')).not.toBeInTheDocument();
    expect(editor).not.toHaveTextContent('s3cret');
    expect(within(editor).getByTestId('config-used-by')).toHaveTextContent('Deployment/web');
    // Replace the user only; the password stays null (kept by the server).
    await user.click(within(editor).getByTestId('replace-value-1'));
    await user.type(within(editor).getByTestId('config-value-1'), 'shop2');
    await user.click(within(editor).getByTestId('config-restart'));
    await user.click(within(editor).getByTestId('config-save'));
    expect(await screen.findByTestId('config-saved')).toHaveTextContent('version 2');
    const put = seen.find((r) => r.method === 'PUT')!;
    expect(await put.json()).toEqual({ data: { password: null, user: 'shop2' }, restart: true, message: '' });
    expect(seen.some((r) => r.url.includes('reveal='))).toBe(false);
  });

  it('reveals secret values with secrets.reveal, on request only', async () => {
    const seen = render(['config.edit', 'secrets.reveal'], '/workspaces/1/servicemaps/7/config?config=Secret%2Fdb');
    const user = userEvent.setup();
    const editor = await screen.findByTestId('config-editor');
    expect(await within(editor).findByTestId('secret-hidden-0')).toBeInTheDocument();
    await user.click(within(editor).getByTestId('reveal-secret'));
    await waitFor(() => expect(within(editor).getByTestId('config-value-0')).toHaveValue('s3cret'));
    expect(editor).toHaveAttribute('data-revealed', 'true');
    expect(seen.filter((r) => r.url.includes('reveal=true'))).toHaveLength(1);
  });

  it('shows a 504 from the cluster', async () => {
    render([], undefined, { [`GET ${base}`]: () => json({ detail: 'The cluster did not answer: timeout' }, { status: 504 }) });
    const alert = await screen.findByTestId('configs-error');
    expect(alert).toHaveAttribute('data-status', '504');
    expect(alert).toHaveTextContent('did not answer in time');
    expect(screen.queryByTestId('create-config')).not.toBeInTheDocument();
  });
});
