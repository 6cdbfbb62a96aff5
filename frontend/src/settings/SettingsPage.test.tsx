import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { SettingsPage } from './SettingsPage';
import type { EffectiveSettings } from './types';

const body: EffectiveSettings = {
  generated_at: '2026-12-02T10:00:00Z',
  environment: 'production',
  version: '0.1.0',
  sections: [
    {
      key: 'address_policy',
      entries: [
        { key: 'PORTAL_CLUSTER_ALLOW_LOOPBACK', value: false, default: false, is_default: true, env: 'PORTAL_CLUSTER_ALLOW_LOOPBACK', from_env: false, unit: null, secret: false },
        { key: 'PORTAL_CLUSTER_DENY_NETWORKS', value: ['10.0.0.0/8'], default: [], is_default: false, env: 'PORTAL_CLUSTER_DENY_NETWORKS', from_env: true, unit: null, secret: false },
      ],
    },
    {
      key: 'retention',
      entries: [
        { key: 'PORTAL_ACTIVITY_RETENTION_DAYS', value: 30, default: 90, is_default: false, env: 'PORTAL_ACTIVITY_RETENTION_DAYS', from_env: false, unit: 'days', secret: false },
      ],
    },
    {
      key: 'secrets',
      entries: [{ key: 'SECRET_KEY', value: true, default: null, is_default: false, env: 'SECRET_KEY', from_env: true, unit: null, secret: true }],
    },
  ],
};

afterEach(() => vi.unstubAllGlobals());

describe('SettingsPage', () => {
  it('shows each section with values, defaults, variables and sources', async () => {
    mockFetch({ 'GET /api/admin/settings/': () => json(body) });
    renderAt(<SettingsPage />, { queryClient: testQueryClient(adminUser) });
    const policy = await screen.findByTestId('settings-section-address_policy');
    expect(within(policy).getByRole('heading', { level: 2 })).toHaveTextContent('Address policy');
    const deny = within(policy).getByTestId('setting-PORTAL_CLUSTER_DENY_NETWORKS');
    expect(deny).toHaveTextContent('10.0.0.0/8');
    expect(deny).toHaveTextContent('Set by environment');
    expect(within(screen.getByTestId('setting-PORTAL_ACTIVITY_RETENTION_DAYS')).getByTestId('setting-value')).toHaveTextContent('30 days');
    expect(screen.getByTestId('setting-PORTAL_ACTIVITY_RETENTION_DAYS')).toHaveTextContent('Changed');
    expect(screen.getByTestId('setting-SECRET_KEY')).toHaveTextContent('Set (hidden)');
    expect(screen.getByTestId('settings-environment')).toHaveTextContent('production');
    expect(screen.getAllByRole('heading', { level: 1 })).toHaveLength(1);
  });

  it('finds a setting by name', async () => {
    mockFetch({ 'GET /api/admin/settings/': () => json(body) });
    renderAt(<SettingsPage />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('settings-section-retention');
    await userEvent.setup().type(screen.getByTestId('settings-search'), 'retention');
    expect(screen.queryByTestId('settings-section-address_policy')).not.toBeInTheDocument();
    expect(screen.getByTestId('setting-PORTAL_ACTIVITY_RETENTION_DAYS')).toBeInTheDocument();
  });

  it('shows the refusal for a non-admin', async () => {
    mockFetch({
      'GET /api/admin/settings/': () => json({ detail: 'Only system admins may do this.', code: 'permission_denied' }, { status: 403 }),
    });
    renderAt(<SettingsPage />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByText(/Only system admins/)).toBeInTheDocument();
  });
});
