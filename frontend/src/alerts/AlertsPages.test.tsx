import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { tableViewsHandler } from '../components/table/testing';
import { workspace } from '../test/workspaces';
import { AlertDetailPage } from './AlertDetail';
import { AlertsRoutes } from './AlertsRoutes';
import { LogsRoute } from './LogsRoute';
import { RulesPage } from './RulesPage';
import type { AlertDetail } from './types';

const member: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };

function alertDetail(overrides: Partial<AlertDetail> = {}): AlertDetail {
  return {
    id: 7,
    rule: { id: 2, name: 'Pod crash-looping', builtin: 'pod_crash_looping' },
    fingerprint: 'a'.repeat(64),
    state: 'firing',
    severity: 'critical',
    cluster: { id: 1, name: 'seoul' },
    workspace: { id: 1, name: 'shop' },
    service_map: null,
    namespace: 'shop',
    subject_kind: 'Pod',
    subject_name: 'web-1',
    labels: {},
    value: 4,
    message: 'Pod web-1 in shop is crash-looping (4 restarts).',
    message_code: '',
    message_params: {},
    started_at: '2026-12-02T10:00:00Z',
    fired_at: '2026-12-02T10:00:00Z',
    last_seen_at: '2026-12-02T10:01:00Z',
    acknowledged_by: null,
    acknowledged_at: null,
    acknowledge_note: '',
    resolved_at: null,
    resolved_by: null,
    updated: '2026-12-02T10:01:00Z',
    transitions: [{ id: 1, from_state: '', to_state: 'firing', actor: null, note: '', at: '2026-12-02T10:00:00Z' }],
    permissions: { act: true },
    ...overrides,
  };
}

const noWorkspaces = () => json({ results: [], next: null });
const csrf = () => json({ csrfToken: 'token' });

describe('AlertDetailPage', () => {
  it('acknowledges with a note and shows it in the history', async () => {
    let current = alertDetail();
    const seen = mockFetch({
      'GET /api/monitoring/alerts/7/': () => json(current),
      'GET /api/monitoring/notifications/': () => json({ results: [], next: null }),
      'GET /api/workspaces/': noWorkspaces,
      'GET /api/auth/csrf/': csrf,
      'POST /api/monitoring/alerts/7/acknowledge/': async (request) => {
        const body = (await request.json()) as { note: string };
        current = alertDetail({
          state: 'acknowledged',
          acknowledged_by: 'admin',
          acknowledged_at: '2026-12-02T10:02:00Z',
          acknowledge_note: body.note,
          transitions: [...current.transitions, { id: 2, from_state: 'firing', to_state: 'acknowledged', actor: 'admin', note: body.note, at: '2026-12-02T10:02:00Z' }],
        });
        return json(current);
      },
    });
    renderAt(<AlertDetailPage />, { route: '/alerts/7', path: '/alerts/:id', queryClient: testQueryClient(adminUser) });
    const button = await screen.findByTestId('alert-acknowledge');
    expect(button).toBeEnabled();
    await userEvent.click(button);
    await userEvent.type(screen.getByTestId('ack-dialog-note'), 'on it');
    await userEvent.click(screen.getByTestId('ack-dialog-submit'));
    const step = await screen.findByText('on it', { selector: '[data-testid=transition-note]' });
    expect(step.closest('li')).toHaveAttribute('data-to', 'acknowledged');
    expect(within(step.closest('li') as HTMLElement).getByTestId('transition-who')).toHaveTextContent('admin');
    expect(screen.getByTestId('alert-acknowledge')).toBeDisabled();
    expect(screen.getByTestId('alert-acknowledge-why')).toHaveTextContent('Already acknowledged.');
    const post = seen.find((r) => r.method === 'POST');
    expect(await post?.json()).toEqual({ note: 'on it' });
  });

  it('disables the actions with the reason when the user may not act', async () => {
    mockFetch({
      'GET /api/monitoring/alerts/7/': () => json(alertDetail({ permissions: { act: false } })),
      'GET /api/monitoring/notifications/': () => json({ results: [], next: null }),
      'GET /api/workspaces/': () => json({ results: [workspace(1, { my_role: 'viewer', my_grants: [] })], next: null }),
    });
    renderAt(<AlertDetailPage />, { route: '/alerts/7', path: '/alerts/:id', queryClient: testQueryClient(member) });
    for (const id of ['alert-acknowledge', 'alert-silence', 'alert-resolve']) {
      expect(await screen.findByTestId(id)).toBeDisabled();
      expect(screen.getByTestId(`${id}-why`)).toHaveTextContent('alerts.manage');
    }
  });
});

describe('RulesPage', () => {
  it("shows a 400's errors next to their fields", async () => {
    mockFetch({
      'GET /api/monitoring/rules/': () => json({ results: [], next: null }),
      'GET /api/workspaces/': noWorkspaces,
      'GET /api/workspaces/servicemaps/': () => json({ results: [], next: null }),
      'GET /api/clusters/': () => json({ results: [], next: null }),
      'GET /api/auth/csrf/': csrf,
      'POST /api/monitoring/rules/': () =>
        json(
          { detail: 'Invalid input: threshold: A valid number is required.', code: 'invalid', errors: { threshold: ['A valid number is required.'], window_seconds: ['Ensure this value is greater than or equal to 60.'] } },
          { status: 400 },
        ),
    });
    renderAt(<RulesPage />, { route: '/alerts/rules', path: '/alerts/rules', queryClient: testQueryClient(adminUser) });
    await userEvent.click(await screen.findByTestId('rule-new'));
    await userEvent.type(screen.getByTestId('rule-name'), 'hot pods');
    await userEvent.click(screen.getByTestId('rule-save'));
    const threshold = screen.getByTestId('rule-threshold');
    await waitFor(() => expect(threshold).toHaveAttribute('aria-invalid', 'true'));
    expect(document.getElementById(threshold.getAttribute('aria-describedby') ?? '')).toHaveTextContent('A valid number is required.');
    expect(screen.getByTestId('rule-window')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('rule-name')).toHaveAttribute('aria-invalid', 'false');
  });
});

describe('LogsRoute', () => {
  it('follows a workload, tags lines with their pod, marks skipped lines, pauses and searches', async () => {
    vi.stubGlobal('WebSocket', FakeWebSocket);
    renderAt(<LogsRoute />, { route: '/logs/1/shop/Deployment/web', path: '/logs/:clusterId/:namespace/:kind/:name', queryClient: testQueryClient(adminUser) });
    await waitFor(() => expect(FakeWebSocket.instances.some((s) => s.url.endsWith('/ws/logs/'))).toBe(true));
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    expect(ws.sent[0]).toEqual({ type: 'follow', cluster: 1, namespace: 'shop', workload: { kind: 'Deployment', name: 'web' }, tailLines: 200, timestamps: true });
    act(() => ws.serverSend({ type: 'started', pods: [{ pod: 'web-a', container: 'app' }, { pod: 'web-b', container: 'app' }] }));
    act(() =>
      ws.serverSend({
        type: 'lines',
        lines: [
          { pod: 'web-a', container: 'app', ts: '2026-12-02T10:00:01Z', text: 'GET /health 200' },
          { pod: 'web-b', container: 'app', ts: '2026-12-02T10:00:02Z', text: 'panic: boom' },
        ],
      }),
    );
    act(() => ws.serverSend({ type: 'skipped', count: 42 }));
    const lines = await screen.findAllByTestId('log-line');
    expect(lines.map((l) => l.getAttribute('data-pod'))).toEqual(['web-a', 'web-b']);
    expect(lines[0]?.querySelector('.log-pod')?.className).toContain('pod-c0');
    expect(lines[1]?.querySelector('.log-pod')?.className).toContain('pod-c1');
    expect(screen.getByTestId('logs-skipped')).toHaveTextContent('42 lines skipped');
    expect(screen.getByTestId('logs-status')).toHaveTextContent('2 received · 42 skipped');

    await userEvent.click(screen.getByTestId('logs-pause'));
    expect(ws.sent.at(-1)).toEqual({ type: 'pause' });
    expect(screen.getByTestId('logs-pause')).toHaveTextContent('Resume');
    await userEvent.click(screen.getByTestId('logs-pause'));
    expect(ws.sent.at(-1)).toEqual({ type: 'resume' });

    await userEvent.type(screen.getByTestId('logs-search'), 'PANIC');
    expect(screen.getByTestId('logs-search-count')).toHaveTextContent('1 of 1');
    expect(screen.getByText('panic', { selector: 'mark' })).toBeInTheDocument();
  });
});

describe('AlertsPage', () => {
  it('lists open alerts and keeps them live from the alerts group', async () => {
    const { transitions: _t, permissions: _p, ...row } = alertDetail();
    let current = row;
    const seen = mockFetch({
      'GET /api/monitoring/alerts/': () => json({ results: [current], next: null }),
      'GET /api/workspaces/': noWorkspaces,
      'GET /api/clusters/': () => json({ results: [], next: null }),
      ...tableViewsHandler(),
    });
    renderAt(<AlertsRoutes />, { route: '/alerts', path: '/alerts/*', queryClient: testQueryClient(adminUser) });
    const line = await screen.findByTestId('alert-row-7');
    expect(within(line).getByTestId('alert-state')).toHaveAttribute('data-state', 'firing');
    expect(line).toHaveTextContent('Pod crash-looping');
    const list = seen.find((r) => new URL(r.url).pathname === '/api/monitoring/alerts/');
    expect(new URL(list!.url).searchParams.get('open')).toBe('true');

    getSocket().start();
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    await waitFor(() => expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'alerts' }));
    act(() => ws.serverSend({ type: 'subscribed', group: 'alerts', seq: 1 }));
    current = { ...row, state: 'acknowledged', acknowledged_by: 'kim' };
    act(() => ws.serverSend({ type: 'alert.updated', group: 'alerts', seq: 2, data: current }));
    await waitFor(() => expect(within(screen.getByTestId('alert-row-7')).getByTestId('alert-state')).toHaveAttribute('data-state', 'acknowledged'));
  });
});
