import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { hasProvider, parseLabels, ProvisionWizard } from './ProvisionWizard';
import { management, provisionedRow, operation, templateDetail, templateRow } from './testData';

const plan = {
  objects: [
    { apiVersion: 'cluster.x-k8s.io/v1beta1', kind: 'Cluster', name: 'edge-1', namespace: 'portal-provisioning' },
    { apiVersion: 'cluster.x-k8s.io/v1beta1', kind: 'MachineDeployment', name: 'edge-1-workers', namespace: 'portal-provisioning' },
  ],
  manifest: 'kind: Cluster\n',
  dry_run: { ok: true, errors: [] },
};

function routes(overrides: Record<string, (r: Request) => Response | Promise<Response>> = {}) {
  return mockFetch({
    'GET /api/provisioning/management-clusters/': () => json([management(1), management(2, { status: 'error' })]),
    'GET /api/provisioning/templates/': () => json([templateRow(3), templateRow(4, { name: 'old', archived: true })]),
    'GET /api/provisioning/templates/3/': () => json(templateDetail(3)),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    'POST /api/provisioning/clusters/plan/': () => json(plan),
    'POST /api/provisioning/clusters/': () => json({ provisioned: provisionedRow(5, { name: 'edge-1', phase: 'pending' }), operation: operation(1) }, { status: 202 }),
    ...overrides,
  });
}

async function fillUntilPlan(user: ReturnType<typeof userEvent.setup>) {
  // the one ready management cluster is chosen for the user
  await waitFor(() => expect(screen.getByTestId('provision-management')).toHaveValue('1'));
  expect(within(screen.getByTestId('provision-management')).queryByText('mgmt-2')).not.toBeInTheDocument();
  expect(screen.getByTestId('provision-next')).toBeDisabled();
  await user.click(screen.getByTestId('provision-provider-sandbox'));
  await user.click(screen.getByTestId('provision-next'));
  await user.click(await screen.findByTestId('provision-template-sandbox-basic'));
  expect(screen.queryByTestId('provision-template-old')).not.toBeInTheDocument(); // archived: not offered
  await waitFor(() => expect(screen.getByTestId('provision-next')).toBeEnabled());
  await user.click(screen.getByTestId('provision-next'));
  const workers = await screen.findByTestId('value-workers');
  await user.clear(workers);
  await user.type(workers, '3');
  await user.click(screen.getByTestId('provision-next'));
  await user.type(screen.getByTestId('provision-name'), 'edge-1');
  await user.type(screen.getByTestId('provision-labels'), 'team=platform');
  await user.click(screen.getByTestId('provision-next'));
}

describe('ProvisionWizard', () => {
  it('walks provider → template → parameters → name → plan and creates the cluster', async () => {
    const seen = routes();
    const user = userEvent.setup();
    renderAt(<ProvisionWizard />, { route: '/provisioning/new', path: '/provisioning/new', queryClient: testQueryClient(adminUser) });
    await fillUntilPlan(user);

    const dry = await screen.findByTestId('provision-dry-run');
    expect(dry).toHaveAttribute('data-ok', 'true');
    expect(screen.getByTestId('object-Cluster-edge-1')).toBeInTheDocument();
    expect(screen.getByTestId('object-MachineDeployment-edge-1-workers')).toBeInTheDocument();
    const planned = seen.find((r) => r.method === 'POST' && r.url.endsWith('/clusters/plan/'));
    expect(await planned?.json()).toEqual({
      name: 'edge-1',
      management: 1,
      template: 3,
      parameters: { workers: 3 },
      stage: 'dev',
      labels: { team: 'platform' },
    });

    await user.click(screen.getByTestId('provision-create'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/provisioning/clusters/5'));
  });

  it('does not create when the dry run fails, and shows why', async () => {
    routes({
      'POST /api/provisioning/clusters/plan/': () =>
        json({ ...plan, dry_run: { ok: false, errors: [{ object: 'KubeadmControlPlane/edge-1-cp', message: 'replicas must be odd' }] } }),
    });
    const user = userEvent.setup();
    renderAt(<ProvisionWizard />, { route: '/provisioning/new', path: '/provisioning/new', queryClient: testQueryClient(adminUser) });
    await fillUntilPlan(user);
    const dry = await screen.findByTestId('provision-dry-run');
    expect(dry).toHaveAttribute('data-ok', 'false');
    expect(dry).toHaveTextContent('replicas must be odd');
    expect(screen.getByTestId('provision-create')).toBeDisabled();
  });

  it("shows the server's refusal (a name already taken) on the plan step", async () => {
    routes({
      'POST /api/provisioning/clusters/plan/': () =>
        json({ detail: 'A cluster named edge-1 already exists.', code: 'cluster_name_taken', params: { name: 'edge-1' } }, { status: 400 }),
    });
    const user = userEvent.setup();
    renderAt(<ProvisionWizard />, { route: '/provisioning/new', path: '/provisioning/new', queryClient: testQueryClient(adminUser) });
    await fillUntilPlan(user);
    expect(await screen.findByTestId('provision-plan-error')).toHaveTextContent('edge-1');
    expect(screen.getByTestId('provision-create')).toBeDisabled();
  });

  it('parses labels and matches providers', () => {
    expect(parseLabels('a=b\n\n c = d ')).toEqual({ labels: { a: 'b', c: 'd' } });
    expect(parseLabels('a=b\nnope')).toEqual({ bad: 2 });
    expect(hasProvider(management(1), 'sandbox')).toBe(true);
    expect(hasProvider(management(1), 'aws')).toBe(false);
  });
});
