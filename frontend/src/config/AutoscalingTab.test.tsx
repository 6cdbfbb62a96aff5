import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page } from '../test/clusters';
import { intent } from '../test/intents';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { AutoscalingTab } from './AutoscalingTab';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };
const row = (kind: string, name: string, data: Record<string, unknown>) => ({
  cluster: 1, kind, namespace: 'shop-7', name, uid: `${kind}-${name}`, labels: {}, node_name: '', phase: 'Running',
  created: '2026-11-21T10:00:00Z', updated: '2026-11-21T10:00:00Z', data,
});

function render(grants: string[], put: () => Response = () => json({})) {
  const seen = mockFetch({
    'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'custom', my_grants: grants })),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    'GET /api/clusters/1/workloads/': () =>
      json(page([row('Deployment', 'web', { replicas: 2, ready_replicas: 2 }), row('StatefulSet', 'db', { replicas: 1, ready_replicas: 1 }), row('DaemonSet', 'agent', {})])),
    'GET /api/clusters/1/hpas/': () =>
      json(
        page([
          row('HorizontalPodAutoscaler', 'db', {
            target: { kind: 'StatefulSet', name: 'db' }, min_replicas: 1, max_replicas: 3,
            metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 70 } } }],
          }),
        ]),
      ),
    'PUT /api/catalog/autoscalers/7/Deployment/web/': put,
    'DELETE /api/catalog/autoscalers/7/StatefulSet/db/': () => intent({ name: 'db' }, { kind: 'hpa.delete' }),
  });
  renderAt(<AutoscalingTab clusterId={1} namespace="shop-7" serviceMapId={7} />, {
    route: '/workspaces/1/servicemaps/7/autoscaling',
    path: '/workspaces/:id/servicemaps/:sid/:tab?',
    queryClient: testQueryClient(dev),
  });
  return seen;
}

describe('AutoscalingTab', () => {
  it('shows current HPAs from the read model; field errors sit at their fields, then a save shows at once', async () => {
    let puts = 0;
    const seen = render(['workloads.scale'], () =>
      ++puts === 1
        ? json({ detail: 'Invalid input.', errors: { max_replicas: ['must be at least min_replicas'], cpu_percent: ['1…100'] } }, { status: 400 })
        : intent({ kind: 'Deployment', name: 'web', min_replicas: 2, max_replicas: 5, cpu_percent: 60, memory_percent: null }, { kind: 'hpa.set' }),
    );
    const user = userEvent.setup();
    const db = await screen.findByTestId('autoscaler-row-StatefulSet-db');
    await waitFor(() => expect(db).toHaveAttribute('data-hpa', 'true'));
    expect(db).toHaveTextContent('1–3');
    expect(db).toHaveTextContent('memory 70%');
    expect(screen.queryByTestId('autoscaler-row-DaemonSet-agent')).not.toBeInTheDocument();
    const web = screen.getByTestId('autoscaler-row-Deployment-web');
    expect(web).toHaveAttribute('data-hpa', 'false');

    await user.click(within(web).getByTestId('edit-autoscaler-Deployment-web'));
    const dialog = screen.getByTestId('autoscaler-dialog');
    await user.clear(within(dialog).getByTestId('autoscaler-min_replicas'));
    await user.type(within(dialog).getByTestId('autoscaler-min_replicas'), '2');
    await user.clear(within(dialog).getByTestId('autoscaler-max_replicas'));
    await user.type(within(dialog).getByTestId('autoscaler-max_replicas'), '1');
    await user.clear(within(dialog).getByTestId('autoscaler-cpu_percent'));
    await user.type(within(dialog).getByTestId('autoscaler-cpu_percent'), '600');
    await user.click(screen.getByTestId('autoscaler-submit'));
    await waitFor(() => expect(within(dialog).getByTestId('autoscaler-max_replicas')).toHaveAttribute('aria-invalid', 'true'));
    expect(within(dialog).getByTestId('autoscaler-cpu_percent')).toHaveAttribute('aria-invalid', 'true');
    expect(within(dialog).getByTestId('autoscaler-min_replicas')).toHaveAttribute('aria-invalid', 'false');
    expect(dialog).toHaveTextContent('must be at least min_replicas');
    const first = seen.find((r) => r.method === 'PUT')!;
    expect(await first.json()).toEqual({ min_replicas: 2, max_replicas: 1, cpu_percent: 600, memory_percent: null });

    await user.clear(within(dialog).getByTestId('autoscaler-max_replicas'));
    await user.type(within(dialog).getByTestId('autoscaler-max_replicas'), '5');
    await user.clear(within(dialog).getByTestId('autoscaler-cpu_percent'));
    await user.type(within(dialog).getByTestId('autoscaler-cpu_percent'), '60');
    await user.click(screen.getByTestId('autoscaler-submit'));
    await waitFor(() => expect(screen.queryByTestId('autoscaler-dialog')).not.toBeInTheDocument());
    expect(screen.getByTestId('autoscaler-row-Deployment-web')).toHaveAttribute('data-hpa', 'true');
    expect(screen.getByTestId('autoscaler-row-Deployment-web')).toHaveTextContent('2–5');

    await user.click(screen.getByTestId('remove-autoscaler-StatefulSet-db'));
    await user.click(screen.getByTestId('confirm-remove-autoscaler'));
    await waitFor(() => expect(screen.getByTestId('autoscaler-row-StatefulSet-db')).toHaveAttribute('data-hpa', 'false'));
  });

  it('offers no changes without workloads.scale', async () => {
    render([]);
    await screen.findByTestId('autoscaler-row-Deployment-web');
    expect(screen.queryByTestId('edit-autoscaler-Deployment-web')).not.toBeInTheDocument();
    expect(screen.queryByTestId('remove-autoscaler-StatefulSet-db')).not.toBeInTheDocument();
  });
});
