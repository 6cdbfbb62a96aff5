import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { page } from '../test/clusters';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { PolicyPage } from './PolicyPage';
import { policy } from './testData';

const dev: User = { ...adminUser, id: 4, username: 'devon', role: 'user', is_admin: false };

describe('PolicyPage', () => {
  it('is read-only without permissions.change: settings disabled, no exception form or remove', async () => {
    mockFetch({
      'GET /api/workspaces/': () => json(page([workspace(1, { my_role: 'developer', my_grants: ['workloads.deploy'] })])),
      'GET /api/builds/scan-policies/1/': () => json(policy({ permissions: { change: false } })),
    });
    renderAt(<PolicyPage />, { route: '/registries/policy', queryClient: testQueryClient(dev) });
    const settings = await screen.findByTestId('policy-settings');
    expect(settings).toHaveAttribute('data-readonly', 'true');
    expect(within(settings).getByTestId('policy-readonly')).toBeInTheDocument();
    expect(within(settings).getByTestId('policy-block')).toBeDisabled();
    expect(within(settings).getByTestId('policy-block')).toHaveValue('CRITICAL');
    expect(within(settings).getByTestId('policy-require-scan')).toBeDisabled();
    expect(within(settings).queryByTestId('policy-save')).not.toBeInTheDocument();
    const exceptions = screen.getByTestId('policy-exceptions');
    expect(within(exceptions).getByTestId('exception-CVE-2024-0002')).toHaveTextContent('Not reachable from our code');
    expect(within(exceptions).queryByTestId('remove-exception-CVE-2024-0002')).not.toBeInTheDocument();
    expect(within(exceptions).queryByTestId('exception-form')).not.toBeInTheDocument();
  });

  it('lets a manager change the threshold, add an exception (expiring at the end of the day) and remove one', async () => {
    let current = policy({ permissions: { change: true } });
    const seen = mockFetch({
      'GET /api/workspaces/': () => json(page([workspace(1, { my_role: 'manager', my_grants: ['members.manage'] }), workspace(2)])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'GET /api/builds/scan-policies/1/': () => json(current),
      'PUT /api/builds/scan-policies/1/': async (r) => {
        current = { ...current, ...((await r.json()) as object) };
        return json(current);
      },
      'POST /api/builds/scan-policies/1/exceptions/': () =>
        json({ detail: 'Invalid input.', errors: { vulnerability: ['Name a CVE or GHSA id.'] } }, { status: 400 }),
      'DELETE /api/builds/scan-policies/1/exceptions/7/': () => {
        current = { ...current, exceptions: [] };
        return new Response(null, { status: 204 });
      },
    });
    renderAt(<PolicyPage />, { route: '/registries/policy?workspace=1', queryClient: testQueryClient(dev) });
    const user = userEvent.setup();
    const block = await screen.findByTestId('policy-block');
    expect(block).toBeEnabled();
    await user.selectOptions(block, 'HIGH');
    await user.click(screen.getByTestId('policy-require-scan'));
    await user.click(screen.getByTestId('policy-save'));
    await waitFor(() => expect(seen.some((r) => r.method === 'PUT')).toBe(true));
    expect(await seen.find((r) => r.method === 'PUT')!.json()).toEqual({ block_severity: 'HIGH', require_scan: true });

    const form = screen.getByTestId('exception-form');
    await user.type(within(form).getByRole('textbox', { name: /Vulnerability/ }), 'nope');
    await user.type(within(form).getByRole('textbox', { name: 'Reason' }), 'vendor says safe');
    await user.type(within(form).getByLabelText('Expires'), '2027-01-31');
    await user.click(within(form).getByTestId('exception-submit'));
    await waitFor(() => expect(within(form).getByRole('textbox', { name: /Vulnerability/ })).toHaveAttribute('aria-invalid', 'true'));
    const sent = (await seen.find((r) => r.method === 'POST' && r.url.includes('/exceptions/'))!.json()) as { expires: string };
    expect(sent).toMatchObject({ vulnerability: 'nope', reason: 'vendor says safe' });
    expect(new Date(sent.expires).getDate()).toBe(31); // the end of the chosen day, local time

    await user.click(screen.getByTestId('remove-exception-CVE-2024-0002'));
    expect(await screen.findByTestId('exceptions-empty')).toBeInTheDocument();
  });
});
