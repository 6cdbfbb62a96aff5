import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { release } from '../test/catalog';
import { page } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { serviceMap, workspace } from '../test/workspaces';
import { EditDefinitionPage, NewDefinitionPage } from './DefinitionEditor';
import { definition, presets, registry } from './testData';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

function routes(post: (request: Request) => Response | Promise<Response>) {
  return mockFetch({
    'GET /api/workspaces/': () => json(page([workspace(1, { my_role: 'developer', my_grants: ['builds.run'] }), workspace(2, { my_grants: [] })])),
    'GET /api/builds/registries/': () => json([registry(1)]),
    'GET /api/builds/presets/': () => json(presets),
    'GET /api/workspaces/1/servicemaps/': () => json(page([serviceMap(7), serviceMap(8, { cluster: { id: 2, name: 'busan', display_name: '', status: 'connected' } })])),
    'GET /api/catalog/releases/': () => json(page([release(4)])),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    'POST /api/builds/definitions/': post,
  });
}

async function fill(user: ReturnType<typeof userEvent.setup>) {
  await waitFor(() => expect(screen.getByTestId('field-workspace')).toHaveValue('1'));
  typeIn('field-name', 'shop-api');
  typeIn('field-git-url', 'http://127.0.0.1:9000/shop.git');
  await waitFor(() => expect(screen.getByTestId('field-registry').querySelectorAll('option')).toHaveLength(2));
  await user.selectOptions(screen.getByTestId('field-registry'), '1');
  expect(screen.getByTestId('registry-prefixes')).toHaveTextContent('team-1/…');
  typeIn('field-repository', 'team-2/shop-api');
  await waitFor(() => expect(screen.getByTestId('field-cluster').querySelectorAll('option')).toHaveLength(3));
  await user.selectOptions(screen.getByTestId('field-cluster'), '1');
  // only the service maps on the chosen cluster
  expect(within(screen.getByTestId('field-service-map')).queryByText(/shop-8/)).not.toBeInTheDocument();
  await user.selectOptions(screen.getByTestId('field-service-map'), '7');
}

/** Sets a text control's value (typing every key re-renders the whole form: slow in jsdom). */
function typeIn(testId: string, value: string) {
  fireEvent.change(screen.getByTestId(testId), { target: { value } });
}

/** The messages shown for a control (FormField links them with aria-describedby). */
function errorsOf(control: HTMLElement): string {
  const id = control.getAttribute('aria-describedby');
  return id ? (document.getElementById(id)?.textContent ?? '') : '';
}

describe('DefinitionEditor', { timeout: 20_000 }, () => {
  it("shows a 400's errors at their fields, and the ones it has no field for on top", async () => {
    routes(() =>
      json(
        {
          detail: 'Repository team-2/shop-api is outside what workspace team-1 holds in registry builtin (team-1/…).',
          code: 'repository_outside_allocation',
          params: { repository: 'team-2/shop-api', prefixes: 'team-1' },
          errors: {
            repository: ['Repository team-2/shop-api is outside what workspace team-1 holds in registry builtin (team-1/…).'],
            service_map: ['Service map shop-7 is not on cluster seoul-prod.'],
            'resources.limits.cpu': ['Not a Kubernetes quantity: 2 cores.'],
            build_args: ['Build argument names are letters, digits and _.'],
            spec_version: ['Unknown field.'],
          },
        },
        { status: 400 },
      ),
    );
    const user = userEvent.setup();
    renderAt(<NewDefinitionPage />, { route: '/builds/new', path: '/builds/new', queryClient: testQueryClient(dev) });
    await fill(user);
    typeIn('field-cpu-limit', '2 cores');
    await user.click(screen.getByTestId('definition-save'));

    const summary = await screen.findByTestId('definition-error');
    expect(summary).toHaveAttribute('data-code', 'repository_outside_allocation');
    expect(summary).toHaveTextContent('outside what workspace team-1 holds');
    expect(within(summary).getByTestId('definition-other-errors')).toHaveTextContent('spec_version: Unknown field.');
    expect(within(summary).getByTestId('definition-other-errors')).not.toHaveTextContent('service_map');

    const repository = screen.getByTestId('field-repository');
    expect(repository).toHaveAttribute('aria-invalid', 'true');
    expect(errorsOf(repository)).toContain('outside what workspace team-1 holds');
    expect(errorsOf(screen.getByTestId('field-service-map'))).toBe('Service map shop-7 is not on cluster seoul-prod.');
    expect(errorsOf(screen.getByTestId('field-cpu-limit'))).toBe('Not a Kubernetes quantity: 2 cores.');
    expect(screen.getByTestId('build-args')).toHaveTextContent('Build argument names are letters, digits and _.');
    expect(screen.getByTestId('field-name')).toHaveAttribute('aria-invalid', 'false');
    // the form keeps what was typed
    expect(repository).toHaveValue('team-2/shop-api');
  });

  it('creates a definition and shows the webhook URL and secret once', async () => {
    const bodies: unknown[] = [];
    routes(async (request) => {
      const body = (await request.json()) as Record<string, unknown>;
      bodies.push(body);
      return json({ ...definition(12, { name: 'shop-api', webhook_enabled: true, webhook_url: 'http://localhost/api/builds/webhooks/12/' }), webhook_secret: 's3cr3t-value' }, { status: 201 });
    });
    const user = userEvent.setup();
    renderAt(<NewDefinitionPage />, { route: '/builds/new', path: '/builds/new', queryClient: testQueryClient(dev) });
    await fill(user);
    await user.click(screen.getByTestId('source-preset'));
    await waitFor(() => expect(screen.getByTestId('field-preset').querySelectorAll('option')).toHaveLength(3));
    await user.selectOptions(screen.getByTestId('field-preset'), 'python');
    expect(screen.getByTestId('preset-template')).toHaveTextContent('FROM python:${PYTHON_VERSION}-slim');
    expect(screen.getByTestId('build-arg-name-0')).toHaveValue('PYTHON_VERSION');
    typeIn('build-arg-value-0', '3.11');
    await user.click(screen.getByTestId('field-webhook'));
    typeIn('field-trigger-refs', 'refs/heads/main\nrefs/tags/v*');
    await user.click(screen.getByTestId('definition-save'));

    const dialog = await screen.findByTestId('webhook-secret-dialog');
    expect(within(dialog).getByTestId('webhook-secret')).toHaveValue('s3cr3t-value');
    expect(within(dialog).getByTestId('webhook-url')).toHaveValue('http://localhost/api/builds/webhooks/12/');
    expect(within(dialog).getByTestId('webhook-secret-warning')).toHaveTextContent('It will not be shown again');
    expect(within(dialog).getByTestId('copy-webhook-secret')).toBeInTheDocument();
    expect(bodies[0]).toMatchObject({
      workspace: 1,
      name: 'shop-api',
      git_url: 'http://127.0.0.1:9000/shop.git',
      preset: 'python',
      build_args: { PYTHON_VERSION: '3.11' },
      registry: 1,
      repository: 'team-2/shop-api',
      cluster: 1,
      service_map: 7,
      webhook_enabled: true,
      trigger_refs: ['refs/heads/main', 'refs/tags/v*'],
      deploy_release: null,
    });
    expect(bodies[0]).not.toHaveProperty('git_password');
    await user.click(within(dialog).getByTestId('webhook-secret-done'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/builds'));
  });

  it('edits a definition without resending its password unless one is typed', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    mockFetch({
      'GET /api/builds/definitions/1/': () => json(definition(1, { has_git_password: true, git_username: 'ci' })),
      'GET /api/builds/runs/': () => json(page([])),
      'GET /api/workspaces/': () => json(page([workspace(1, { my_grants: ['builds.run'] })])),
      'GET /api/builds/registries/': () => json([registry(1)]),
      'GET /api/workspaces/1/servicemaps/': () => json(page([serviceMap(7)])),
      'GET /api/catalog/releases/': () => json(page([])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'PATCH /api/builds/definitions/1/': async (request) => {
        bodies.push((await request.json()) as Record<string, unknown>);
        return json(definition(1, { has_git_password: true }));
      },
    });
    const user = userEvent.setup();
    renderAt(<EditDefinitionPage />, { route: '/builds/definitions/1', path: '/builds/definitions/:id', queryClient: testQueryClient(dev) });
    expect(await screen.findByTestId('git-password-set')).toHaveTextContent('Password set');
    expect(screen.getByTestId('field-git-password')).toHaveValue('');
    await user.click(screen.getByTestId('definition-save'));
    await screen.findByTestId('definition-saved');
    expect(bodies[0]).not.toHaveProperty('git_password');
    expect(bodies[0]).not.toHaveProperty('workspace');
    typeIn('field-git-password', 'tok');
    await user.click(screen.getByTestId('definition-save'));
    await waitFor(() => expect(bodies).toHaveLength(2));
    expect(bodies[1]).toMatchObject({ git_password: 'tok' });
  });

  it('shows the secret once when an edit turns the webhook on, and refuses a delete while a run is going', async () => {
    mockFetch({
      'GET /api/builds/definitions/1/': () => json(definition(1)),
      'GET /api/builds/runs/': () => json(page([])),
      'GET /api/workspaces/': () => json(page([workspace(1, { my_grants: ['builds.run'] })])),
      'GET /api/builds/registries/': () => json([registry(1)]),
      'GET /api/workspaces/1/servicemaps/': () => json(page([serviceMap(7)])),
      'GET /api/catalog/releases/': () => json(page([])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'PATCH /api/builds/definitions/1/': () => json({ ...definition(1, { webhook_enabled: true }), webhook_secret: 'fresh-secret' }),
      'DELETE /api/builds/definitions/1/': () =>
        json({ detail: 'shop-api has a run in progress; cancel it first.', code: 'build_running', params: { name: 'shop-api' } }, { status: 409 }),
    });
    const user = userEvent.setup();
    renderAt(<EditDefinitionPage />, { route: '/builds/definitions/1', path: '/builds/definitions/:id', queryClient: testQueryClient(dev) });
    await user.click(await screen.findByTestId('field-webhook'));
    await user.click(screen.getByTestId('definition-save'));
    const dialog = await screen.findByTestId('webhook-secret-dialog');
    expect(within(dialog).getByTestId('webhook-secret')).toHaveValue('fresh-secret');
    await user.click(within(dialog).getByTestId('webhook-secret-done'));
    expect(screen.queryByTestId('webhook-secret-dialog')).not.toBeInTheDocument();

    await user.click(screen.getByTestId('definition-delete'));
    typeIn('type-confirm-input', 'shop-api');
    await user.click(screen.getByTestId('type-confirm-submit'));
    await waitFor(() => expect(screen.getByTestId('type-confirm-dialog')).toHaveTextContent('cancel it first'));
  });
});
