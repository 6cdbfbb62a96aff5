import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { cluster } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { RegisterClusterPage } from './RegisterClusterPage';

const KUBECONFIG = 'apiVersion: v1\nkind: Config\ncurrent-context: sandbox\n';

async function fillMetadata(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByRole('textbox', { name: 'Name' }), 'seoul-prod');
  await user.type(screen.getByRole('textbox', { name: 'Display name' }), 'Seoul prod');
  await user.selectOptions(screen.getByRole('combobox', { name: 'Provider' }), 'eks');
  await user.selectOptions(screen.getByRole('combobox', { name: 'Stage' }), 'prod');
  await user.click(screen.getByTestId('add-label'));
  await user.type(screen.getByTestId('label-key-0'), 'team');
  await user.type(screen.getByTestId('label-value-0'), 'core');
}

describe('RegisterClusterPage', () => {
  it('uploads a kubeconfig, picks a context and registers, then opens the cluster', async () => {
    const seen = mockFetch({
      'POST /api/clusters/kubeconfig-contexts/': () =>
        json({
          current: 'sandbox',
          contexts: [
            { name: 'other', cluster: 'c2', server: 'https://10.0.0.2:6443', user: 'u2' },
            { name: 'sandbox', cluster: 'c1', server: 'https://127.0.0.1:7443', user: 'admin' },
          ],
        }),
      'POST /api/clusters/': () => json(cluster(42, { status: 'pending' }), { status: 202 }),
      'GET /api/auth/csrf/': () => json({ csrfToken: 'tok' }),
    });
    renderAt(<RegisterClusterPage />, { queryClient: testQueryClient(adminUser) });
    const user = userEvent.setup();
    expect(screen.getByTestId('wizard-next')).toBeDisabled();
    await fillMetadata(user);
    await user.click(screen.getByTestId('wizard-next'));

    expect(screen.getByTestId('wizard-step-connection')).toHaveAttribute('data-active', 'true');
    const file = new File([KUBECONFIG], 'sandbox.kubeconfig', { type: 'text/plain' });
    await user.upload(screen.getByTestId('kubeconfig-file'), file);
    const select = await screen.findByTestId('context-select');
    expect(select).toHaveValue('sandbox'); // the current context is preselected
    expect(screen.getByTestId('context-details')).toHaveTextContent('https://127.0.0.1:7443');
    const read = seen.find((r) => r.url.endsWith('/kubeconfig-contexts/'))!;
    expect(await read.json()).toEqual({ kubeconfig: KUBECONFIG });

    await user.click(screen.getByTestId('wizard-next'));
    expect(screen.getByTestId('wizard-review')).toHaveTextContent('seoul-prod');
    expect(screen.getByTestId('wizard-review')).toHaveTextContent('team=core');
    await user.click(screen.getByTestId('wizard-submit'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/clusters/42'));
    const post = seen.find((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/clusters/')!;
    expect(await post.json()).toEqual({
      name: 'seoul-prod',
      display_name: 'Seoul prod',
      description: '',
      provider: 'eks',
      region: '',
      stage: 'prod',
      labels: { team: 'core' },
      kubeconfig: KUBECONFIG,
      context: 'sandbox',
      insecure_skip_tls_verify: false,
      allow_insecure: false,
    });
  });

  it('puts the API errors at their fields and goes back to the step that holds them', async () => {
    let attempt = 0;
    mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'tok' }),
      'POST /api/clusters/': () => {
        attempt += 1;
        return attempt === 1
          ? json(
              {
                detail: 'The cluster could not be registered.',
                errors: { ca_pem: ['The server certificate is not signed by this CA.'], token: ['The cluster rejected the credentials (401).'] },
              },
              { status: 400 },
            )
          : json({ detail: 'Invalid input.', errors: { name: ['A cluster with this name exists.'] } }, { status: 400 });
      },
    });
    renderAt(<RegisterClusterPage />, { queryClient: testQueryClient(adminUser) });
    const user = userEvent.setup();
    await fillMetadata(user);
    await user.click(screen.getByTestId('wizard-next'));
    await user.click(screen.getByTestId('mode-url'));
    await user.type(screen.getByRole('textbox', { name: 'API server URL' }), 'https://10.0.0.1:6443');
    await user.type(screen.getByRole('textbox', { name: 'CA certificate (PEM)' }), '-----BEGIN CERTIFICATE-----');
    await user.type(screen.getByRole('textbox', { name: 'Token' }), 'secret-token');
    await user.click(screen.getByTestId('wizard-next'));
    await user.click(screen.getByTestId('wizard-submit'));

    // Connection errors: back on step 2, each message under its field, the detail on top.
    expect(await screen.findByTestId('wizard-error')).toHaveTextContent('The cluster could not be registered.');
    expect(screen.getByTestId('wizard-step-connection')).toHaveAttribute('data-active', 'true');
    const ca = screen.getByRole('textbox', { name: 'CA certificate (PEM)' });
    expect(ca).toHaveAttribute('aria-invalid', 'true');
    expect(ca).toHaveAccessibleDescription('The server certificate is not signed by this CA.');
    expect(screen.getByRole('textbox', { name: 'Token' })).toHaveAccessibleDescription('The cluster rejected the credentials (401).');
    expect(screen.getByRole('textbox', { name: 'API server URL' })).toHaveAttribute('aria-invalid', 'false');

    // A name error sends the user back to step 1.
    await user.click(screen.getByTestId('wizard-next'));
    await user.click(screen.getByTestId('wizard-submit'));
    await waitFor(() => expect(screen.getByTestId('wizard-step-metadata')).toHaveAttribute('data-active', 'true'));
    expect(screen.getByRole('textbox', { name: 'Name' })).toHaveAccessibleDescription('A cluster with this name exists.');
    expect(within(screen.getByTestId('wizard-error')).getByText('Invalid input.')).toBeInTheDocument();
  });

  it('sends the namespaces a namespace-scoped identity may read, and shows their error at that field', async () => {
    let attempt = 0;
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'tok' }),
      'POST /api/clusters/': () => {
        attempt += 1;
        return attempt === 1
          ? json(
              { detail: 'Invalid input.', errors: { namespaces: ['The identity may not read anything the portal shows in team-b. It needs at least list and watch on pods (or another kind the portal shows) there.'] } },
              { status: 400 },
            )
          : json(cluster(7, { status: 'pending', namespaces: ['team-a'] }), { status: 202 });
      },
    });
    renderAt(<RegisterClusterPage />, { queryClient: testQueryClient(adminUser) });
    const user = userEvent.setup();
    await fillMetadata(user);
    await user.click(screen.getByTestId('wizard-next'));
    await user.click(screen.getByTestId('mode-url'));
    await user.type(screen.getByRole('textbox', { name: 'API server URL' }), 'https://10.0.0.1:6443');
    await user.type(screen.getByRole('textbox', { name: 'CA certificate (PEM)' }), '-----BEGIN CERTIFICATE-----');
    await user.type(screen.getByRole('textbox', { name: 'Token' }), 'sa-token');
    await user.type(screen.getByRole('textbox', { name: 'Namespaces (optional)' }), 'team-b');
    await user.click(screen.getByTestId('wizard-next'));
    expect(screen.getByTestId('wizard-review')).toHaveTextContent('team-b');
    await user.click(screen.getByTestId('wizard-submit'));
    const box = await screen.findByRole('textbox', { name: 'Namespaces (optional)' });
    expect(box).toHaveAccessibleDescription(/may not read anything the portal shows in team-b/);
    await user.clear(box);
    await user.type(box, 'team-a,  team-c');
    await user.click(screen.getByTestId('wizard-next'));
    await user.click(screen.getByTestId('wizard-submit'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/clusters/7'));
    const posts = seen.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/clusters/');
    expect((await posts[0]!.json()).namespaces).toEqual(['team-b']);
    expect((await posts[1]!.json()).namespaces).toEqual(['team-a', 'team-c']);
  });

  it('shows a kubeconfig refused by the server at the kubeconfig field', async () => {
    mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'tok' }),
      'POST /api/clusters/kubeconfig-contexts/': () =>
        json(
          { detail: 'Invalid input.', errors: { kubeconfig: ['exec plugins are not allowed: they would run commands on the portal server.'] } },
          { status: 400 },
        ),
    });
    renderAt(<RegisterClusterPage />, { queryClient: testQueryClient(adminUser) });
    const user = userEvent.setup();
    await user.type(screen.getByRole('textbox', { name: 'Name' }), 'x1');
    await user.click(screen.getByTestId('wizard-next'));
    const box = screen.getByRole('textbox', { name: '…or paste it' });
    await user.click(box);
    await user.paste('apiVersion: v1');
    await user.click(screen.getByTestId('kubeconfig-read'));
    await waitFor(() => expect(box).toHaveAccessibleDescription(/exec plugins are not allowed/));
    expect(screen.queryByTestId('context-select')).not.toBeInTheDocument();
    expect(screen.getByTestId('wizard-next')).toBeDisabled();
  });
});
