import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page, cluster } from '../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ClustersList } from './ClustersList';
import { ManagementPage } from './ManagementPage';
import { TemplatePage, TemplatesPage } from './TemplatesPage';
import { management, provisionedRow, templateDetail, templateRow } from './testData';

const operator: User = { ...adminUser, id: 2, username: 'ops', role: 'operator', is_admin: false };

describe('ManagementPage', () => {
  it('marks a registered cluster, checks it again and unmarks it (admins)', async () => {
    let marked = false;
    const seen = mockFetch({
      'GET /api/provisioning/management-clusters/': () =>
        json(marked ? [management(1), management(2, { cluster: 2, cluster_name: 'c2', status: 'error', message: 'Cluster API is not installed.', infrastructure_providers: [], control_plane_providers: [] })] : [management(1)]),
      'GET /api/clusters/': () => json(page([cluster(11, { name: 'mgmt-1' }), cluster(2)])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/provisioning/management-clusters/': () => {
        marked = true;
        return json(management(2, { cluster: 2, cluster_name: 'c2', status: 'pending' }), { status: 201 });
      },
      'POST /api/provisioning/management-clusters/1/check/': () => json(management(1, { status: 'pending' }), { status: 202 }),
      'DELETE /api/provisioning/management-clusters/1/': () =>
        json({ detail: 'Provisioned clusters still use mgmt-1.', code: 'management_cluster_in_use' }, { status: 409 }),
    });
    const user = userEvent.setup();
    renderAt(<ManagementPage />, { queryClient: testQueryClient(adminUser) });
    const row = await screen.findByTestId('management-mgmt-1');
    expect(within(row).getByTestId('management-providers')).toHaveTextContent('control-plane-kubeadm, infrastructure-sandbox');
    expect(within(row).getByTestId('management-status')).toHaveTextContent('Ready');

    await user.click(screen.getByTestId('mark-management'));
    const select = screen.getByTestId('mark-management-cluster');
    await waitFor(() => expect(within(select).getByText('c2')).toBeInTheDocument());
    expect(within(select).queryByText('mgmt-1')).not.toBeInTheDocument(); // already a management cluster
    await user.selectOptions(select, '2');
    await user.click(screen.getByTestId('mark-management-submit'));
    const c2 = await screen.findByTestId('management-c2');
    expect(c2).toHaveAttribute('data-status', 'error');
    expect(c2).toHaveTextContent('Cluster API is not installed.');
    expect(await seen.find((r) => r.method === 'POST' && r.url.endsWith('/management-clusters/'))?.json()).toEqual({ cluster: 2 });

    await user.click(within(row).getByTestId('check-mgmt-1'));
    await waitFor(() => expect(seen.some((r) => r.url.endsWith('/management-clusters/1/check/'))).toBe(true));

    await user.click(within(row).getByTestId('unmark-mgmt-1'));
    await user.click(screen.getByTestId('unmark-submit'));
    expect(await within(screen.getByTestId('confirm-dialog')).findByRole('alert')).toHaveTextContent('still use mgmt-1');
  });

  it('offers no changes to operators', async () => {
    mockFetch({ 'GET /api/provisioning/management-clusters/': () => json([management(1)]) });
    renderAt(<ManagementPage />, { queryClient: testQueryClient(operator) });
    await screen.findByTestId('management-mgmt-1');
    expect(screen.queryByTestId('mark-management')).not.toBeInTheDocument();
    expect(screen.queryByTestId('check-mgmt-1')).not.toBeInTheDocument();
  });
});

describe('TemplatesPage and TemplatePage', () => {
  it('lists templates, hides archived ones unless asked, and creates one', async () => {
    const seen = mockFetch({
      'GET /api/provisioning/templates/': (r) => json(new URL(r.url).searchParams.get('archived') ? [templateRow(3), templateRow(4, { name: 'old', archived: true })] : [templateRow(3)]),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/provisioning/templates/': () => json({ detail: 'The template does not render.', code: 'template_render_failed', errors: { 'files.templates/cluster.yaml': ['line 1: bad'] } }, { status: 400 }),
    });
    const user = userEvent.setup();
    renderAt(<TemplatesPage />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('template-sandbox-basic-v1')).toHaveTextContent('Sandbox basic');
    expect(screen.queryByTestId('template-old-v1')).not.toBeInTheDocument();
    await user.click(screen.getByTestId('templates-archived'));
    expect(await screen.findByTestId('template-old-v1')).toHaveAttribute('data-archived', 'true');

    await user.click(screen.getByTestId('new-template'));
    await user.type(screen.getByTestId('template-name'), 'mine');
    await user.click(screen.getByTestId('template-save'));
    expect(await screen.findByText('templates/cluster.yaml: line 1: bad')).toBeInTheDocument();
    const body = (await seen.find((r) => r.method === 'POST')?.json()) as { name: string; provider: string; files: Record<string, string> };
    expect(body.name).toBe('mine');
    expect(body.provider).toBe('sandbox');
    expect(Object.keys(body.files)).toEqual(['values.yaml', 'templates/cluster.yaml']);
  });

  it('shows a template with its files and form, renders it, saves a new version and archives it', async () => {
    const seen = mockFetch({
      'GET /api/provisioning/templates/3/': () => json(templateDetail(3)),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/provisioning/templates/3/render/': async (r) => {
        const body = (await r.json()) as { parameters: { workers?: number } };
        if ((body.parameters.workers ?? 0) > 50) return json({ detail: 'Invalid parameters.', code: 'template_parameters_invalid', errors: { 'parameters.workers': ['must be at most 50'] } }, { status: 400 });
        return json({ objects: [{ apiVersion: 'cluster.x-k8s.io/v1beta1', kind: 'Cluster', name: 'example', namespace: 'x' }], manifest: '' });
      },
      'POST /api/provisioning/templates/3/versions/': () => json(templateDetail(7, { version: 2 }), { status: 201 }),
      'PATCH /api/provisioning/templates/3/': () => json(templateDetail(3, { archived: true })),
    });
    const user = userEvent.setup();
    renderAt(<TemplatePage />, { route: '/provisioning/templates/3', path: '/provisioning/templates/:id', queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('file-values.yaml')).toHaveTextContent('kubernetesVersion: v1.30.4');
    const workers = screen.getByTestId('value-workers');
    await user.clear(workers);
    await user.type(workers, '99');
    await user.click(screen.getByTestId('template-render'));
    expect(await screen.findByText('must be at most 50')).toBeInTheDocument();
    await user.clear(workers);
    await user.type(workers, '3');
    await user.click(screen.getByTestId('template-render'));
    expect(await screen.findByTestId('object-Cluster-example')).toBeInTheDocument();

    await user.click(screen.getByTestId('template-archive'));
    await user.click(screen.getByTestId('template-archive-submit'));
    await waitFor(() => expect(screen.getByTestId('template-unarchive')).toBeInTheDocument());
    expect(await seen.find((r) => r.method === 'PATCH')?.json()).toEqual({ archived: true });

    await user.click(screen.getByTestId('template-new-version'));
    await user.click(screen.getByTestId('template-save'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/provisioning/templates/7'));
    const version = (await seen.find((r) => r.url.endsWith('/versions/'))?.json()) as { files: Record<string, string> };
    expect(version.files['values.yaml']).toContain('workers: 2');
  });
});

describe('ClustersList', () => {
  it('lists provisioned clusters with their progress; New cluster for admins only', async () => {
    mockFetch({ 'GET /api/provisioning/clusters/': () => json([provisionedRow(5)]) });
    renderAt(<ClustersList />, { queryClient: testQueryClient(adminUser) });
    const row = await screen.findByTestId('provisioned-demo');
    expect(within(row).getByTestId('provisioned-machines')).toHaveTextContent('2/3 running');
    expect(screen.getByTestId('new-provisioned')).toHaveAttribute('href', '/provisioning/new');
  });
});
