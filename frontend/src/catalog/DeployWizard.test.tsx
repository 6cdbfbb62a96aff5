import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page } from '../test/clusters';
import { finishedIntent, intent, pendingIntent } from '../test/intents';
import { pkgDetail, plan, rollout, target, version } from '../test/catalog';
import { serviceMap, workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient, type Handler } from '../test/utils';
import { DeployWizard, PlanResult } from './DeployWizard';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

function handlers(extra: Record<string, Handler>): Record<string, Handler> {
  return {
    'GET /api/catalog/packages/5/': () => json(pkgDetail(5, { name: 'shop' })),
    'GET /api/catalog/versions/11/': () => json(version(11)),
    'GET /api/workspaces/': () => json(page([workspace(1, { my_role: 'developer', my_grants: ['workloads.deploy'] })])),
    'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'developer', my_grants: ['workloads.deploy'] })),
    'GET /api/workspaces/servicemaps/': () =>
      json(page([serviceMap(7), serviceMap(8, { cluster: { id: 2, name: 'busan-prod', display_name: '', status: 'connected' } })])),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    ...extra,
  };
}

function render() {
  return renderAt(<DeployWizard />, {
    route: '/catalog/packages/5/deploy?version=11',
    path: '/catalog/packages/:id/deploy',
    queryClient: testQueryClient(dev),
  });
}

describe('DeployWizard', () => {
  it('sends changed values only; a 400 on values.image.tag comes back to its field', async () => {
    const seen = mockFetch(
      handlers({
        'POST /api/catalog/releases/plan/': () => intent(plan(), { kind: 'release.plan' }),
        'POST /api/catalog/releases/': () =>
          json({ detail: 'Invalid input.', errors: { 'values.image.tag': ['Does not match the pattern.'] } }, { status: 400 }),
      }),
    );
    render();
    const user = userEvent.setup();
    const tag = await screen.findByTestId('value-image.tag');
    expect(tag).toHaveValue('1.27'); // the default until changed
    expect(screen.getByTestId('value-replicas')).toHaveValue(1);
    await user.clear(tag);
    await user.type(tag, 'bad tag');
    await user.click(screen.getByTestId('deploy-next'));
    await user.click(await screen.findByTestId('target-check-7'));
    expect(screen.queryByTestId('deploy-rollout-policy')).not.toBeInTheDocument(); // one target: no canary
    expect(screen.getByTestId('deploy-release-name')).toHaveValue('shop');
    await user.click(screen.getByTestId('deploy-next'));
    expect(await screen.findByTestId('plan-7')).toHaveAttribute('data-valid', 'true');
    await user.click(screen.getByTestId('deploy-next'));
    await user.click(screen.getByTestId('deploy-submit'));

    // Back on step 1, the error sits at the field.
    const field = await screen.findByTestId('value-image.tag');
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('deploy-step-values')).toHaveAttribute('data-active', 'true');
    expect(screen.getByText('Does not match the pattern.')).toBeInTheDocument();
    const post = seen.find((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/catalog/releases/')!;
    expect(await post.json()).toEqual({ service_map: 7, name: 'shop', package_version: 11, values: { image: { tag: 'bad tag' } }, strategy: {} });
  });

  it('previews every target: diff with +/- lines, quota preflight, quota problems; many targets start a rollout', async () => {
    const seen = mockFetch(
      handlers({
        'POST /api/catalog/releases/plan/': async (req) => {
          const body = (await req.json()) as { service_map: number };
          // the plan of 7 is still running when the 202 answers: the console follows its intent
          return body.service_map === 7
            ? pendingIntent(70, { kind: 'release.plan' })
            : intent(plan({ valid: false, errors: { quota: ['requests.cpu: the manifests ask for 3 but only 1 is left in shop-8.'] }, preflight: {}, dry_run: {}, diff: '' }), { kind: 'release.plan' });
        },
        'GET /api/catalog/intents/70/': () => finishedIntent(70, { kind: 'release.plan', result: plan() }),
        'POST /api/catalog/rollouts/': () => json(rollout(9, [target(7, 'seoul-prod'), target(8, 'busan-prod')]), { status: 202 }),
      }),
    );
    render();
    const user = userEvent.setup();
    await screen.findByTestId('value-image.tag');
    await user.click(screen.getByTestId('values-mode-raw'));
    const raw = screen.getByTestId('values-raw');
    await user.clear(raw);
    await user.click(raw);
    await user.paste('{"replicas": 2}');
    await user.click(screen.getByTestId('deploy-next'));
    await user.click(await screen.findByTestId('target-check-7'));
    await user.click(screen.getByTestId('target-check-8'));
    await user.click(screen.getByTestId('target-overrides-8'));
    await user.paste('{"replicas": 3}');
    await user.selectOptions(screen.getByTestId('deploy-canary'), '7');
    await user.clear(screen.getByTestId('deploy-batch-size'));
    await user.type(screen.getByTestId('deploy-batch-size'), '2');
    await user.click(screen.getByTestId('deploy-next'));

    const ok = await screen.findByTestId('plan-7');
    await waitFor(() => expect(ok).toHaveAttribute('data-valid', 'true'));
    const diff = within(ok).getByTestId('plan-diff');
    expect(diff.querySelector('[data-diff=diff-add]')?.textContent).toBe('+  replicas: 2\n');
    expect(diff.querySelector('[data-diff=diff-del]')?.textContent).toBe('-  replicas: 1\n');
    expect(within(ok).getByTestId('preflight-requests.cpu')).toHaveAttribute('data-fits', 'true');
    expect(within(ok).getByTestId('plan-dry-run')).toHaveAttribute('data-ok', 'true');
    const bad = screen.getByTestId('plan-8');
    await waitFor(() => expect(bad).toHaveAttribute('data-valid', 'false'));
    expect(within(bad).getByTestId('plan-quota-problems')).toHaveTextContent('only 1 is left in shop-8');
    expect(within(bad).queryByTestId('plan-diff')).not.toBeInTheDocument();
    const planBodies = await Promise.all(seen.filter((r) => r.url.endsWith('/plan/')).map((r) => r.json()));
    expect(planBodies).toContainEqual({ service_map: 8, name: 'shop', package_version: 11, values: { replicas: 3 } });

    await user.click(screen.getByTestId('deploy-next'));
    expect(screen.getByTestId('deploy-invalid-warning')).toBeInTheDocument();
    await user.click(screen.getByTestId('deploy-submit'));
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/rollouts/9'));
    const post = seen.find((r) => r.url.endsWith('/api/catalog/rollouts/'))!;
    expect(await post.json()).toEqual({
      workspace: 1,
      release_name: 'shop',
      package_version: 11,
      values: { replicas: 2 },
      targets: [
        { service_map: 7, overrides: {} },
        { service_map: 8, overrides: { replicas: 3 } },
      ],
      canary: 7,
      batch_size: 2,
      max_failures: 0,
    });
  });

  it('a rollout refused for one target names its cluster and namespace', async () => {
    mockFetch(
      handlers({
        'POST /api/catalog/releases/plan/': () => intent(plan(), { kind: 'release.plan' }),
        'POST /api/catalog/rollouts/': () =>
          json(
            {
              detail: 'Invalid input.',
              errors: { 'targets.1.service_map': ['Revision 3 of shop is still deploying (applying); wait for it to finish, then try again.'] },
            },
            { status: 400 },
          ),
      }),
    );
    render();
    const user = userEvent.setup();
    await screen.findByTestId('value-image.tag');
    await user.click(screen.getByTestId('deploy-next'));
    await user.click(await screen.findByTestId('target-check-7'));
    await user.click(screen.getByTestId('target-check-8'));
    await user.click(screen.getByTestId('deploy-next'));
    await waitFor(() => expect(screen.getByTestId('plan-8')).toHaveAttribute('data-valid', 'true'));
    await user.click(screen.getByTestId('deploy-next'));
    await user.click(screen.getByTestId('deploy-submit'));
    const error = await screen.findByTestId('deploy-error');
    expect(error).toHaveAttribute('data-status', '400');
    expect(error).toHaveTextContent('busan-prod / shop-8 · Service map: Revision 3 of shop is still deploying');
  });

  it('shows plan warnings translated by code, the server text in the title', async () => {
    const warnings = [{ code: 'chart_uses_lookup', message: 'The chart calls lookup (templates/s.yaml).' }];
    renderAt(<PlanResult sm={serviceMap(7)} plan={plan({ warnings })} error={null} />);
    const list = await screen.findByTestId('plan-warnings');
    const item = within(list).getByText(/values it keeps across upgrades are generated anew/);
    expect(item).toHaveAttribute('data-code', 'chart_uses_lookup');
    expect(item).toHaveAttribute('title', 'The chart calls lookup (templates/s.yaml).');
  });
});
