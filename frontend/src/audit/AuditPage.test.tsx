import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tableViewsHandler } from '../components/table/testing';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { getSocket } from '../lib/socket';
import { AuditPage } from './AuditPage';
import { EMPTY_FILTERS, matchesFilters } from './queries';
import type { ScopedAuditRecord } from './types';

function record(id: number, overrides: Partial<ScopedAuditRecord> = {}): ScopedAuditRecord {
  return {
    id,
    timestamp: '2026-11-21T10:00:00Z',
    actor: 'admin',
    source_ip: '10.0.0.1',
    action: 'token.create',
    target_type: 'portal.apitoken',
    target_id: String(id),
    target_repr: `token ${id}`,
    outcome: 'success',
    status_code: 201,
    request_id: `req-${id}`,
    detail: {},
    workspace: null,
    cluster: null,
    ...overrides,
  };
}

function openSocket() {
  getSocket().start();
  const ws = FakeWebSocket.latest();
  act(() => ws.serverOpen());
  return ws;
}

const auditUrls = (seen: Request[]) => seen.filter((r) => new URL(r.url).pathname === '/api/audit/');

afterEach(() => vi.unstubAllGlobals());

describe('AuditPage', () => {
  it('lists records on the table and loads older ones with the next cursor', async () => {
    const seen = mockFetch({
      ...tableViewsHandler(),
      'GET /api/audit/': (req) => {
        const cursor = new URL(req.url).searchParams.get('cursor');
        if (cursor === 'p2') return json({ next: null, previous: 'x', results: [record(1)] });
        return json({
          next: 'http://testserver/api/audit/?cursor=p2',
          previous: null,
          results: [
            record(3, { workspace: { id: 4, name: 'team-a' }, cluster: { id: 2, name: 'seoul-1' } }),
            record(2, { outcome: 'denied', actor: null }),
          ],
        });
      },
    });
    renderAt(<AuditPage />, { queryClient: testQueryClient(adminUser) });
    const list = await screen.findByTestId('audit-list');
    const row3 = await within(list).findByTestId('audit-row-3');
    expect(row3).toHaveTextContent('API token created'); // in words, the code in a tooltip
    expect(within(row3).getByTestId('audit-action')).toHaveAttribute('title', 'token.create');
    expect(within(row3).getByTestId('audit-workspace')).toHaveTextContent('team-a');
    expect(within(row3).getByTestId('audit-cluster')).toHaveTextContent('seoul-1');
    expect(within(list).getByTestId('audit-row-2')).toHaveTextContent('Denied');
    expect(within(list).getByTestId('audit-row-2')).toHaveTextContent('system');
    // A short first page: the table asks for the next one itself (keyset paging as it scrolls).
    expect(await screen.findByTestId('audit-row-1')).toBeInTheDocument();
    expect(new URL(auditUrls(seen).at(-1)!.url).searchParams.get('cursor')).toBe('p2');
  });

  it('sends every filter as a query parameter and keeps them in the URL', async () => {
    const seen = mockFetch({
      ...tableViewsHandler(),
      'GET /api/audit/': () => json({ next: null, previous: null, results: [] }),
    });
    renderAt(<AuditPage />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('audit-empty');
    const user = userEvent.setup();
    const filters = screen.getByTestId('audit-filters');
    await user.type(within(filters).getByRole('textbox', { name: 'Who' }), 'kim');
    await user.type(within(filters).getByRole('textbox', { name: 'Action' }), 'token.*');
    await user.type(within(filters).getByRole('textbox', { name: 'Object' }), 'web');
    await user.type(within(filters).getByRole('textbox', { name: 'Workspace' }), 'team-a');
    await user.type(within(filters).getByRole('textbox', { name: 'Cluster' }), '7');
    await user.selectOptions(within(filters).getByRole('combobox', { name: 'Outcome' }), 'denied');
    await user.type(within(filters).getByLabelText('From'), '2026-11-01');
    await user.type(within(filters).getByLabelText('To'), '2026-11-20');
    await user.click(within(filters).getByRole('button', { name: 'Apply' }));
    await waitFor(() => expect(new URL(auditUrls(seen).at(-1)!.url).searchParams.get('actor')).toBe('kim'));
    const params = new URL(auditUrls(seen).at(-1)!.url).searchParams;
    expect(params.get('action')).toBe('token.*');
    expect(params.get('target')).toBe('web');
    expect(params.get('workspace')).toBe('team-a');
    expect(params.get('cluster')).toBe('7');
    expect(params.get('outcome')).toBe('denied');
    expect(params.get('since')).toBe(new Date('2026-11-01T00:00:00').toISOString());
    expect(params.get('until')).toBe(new Date('2026-11-20T23:59:59.999').toISOString());
    expect(params.has('cursor')).toBe(false);
    expect(screen.getByTestId('location')).toHaveTextContent('workspace=team-a');
    expect(screen.getByTestId('audit-filter-count')).toHaveTextContent('8 filters on');
  });

  it('prepends live records, also into a filtered view when they match', async () => {
    mockFetch({
      ...tableViewsHandler(),
      'GET /api/audit/': () => json({ next: null, previous: null, results: [record(5, { outcome: 'denied' })] }),
    });
    renderAt(<AuditPage />, { route: '/?outcome=denied', queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('audit-row-5');
    const ws = openSocket();
    expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'audit' });
    act(() => ws.serverSend({ type: 'subscribed', group: 'audit', seq: 1 }));
    act(() => ws.serverSend({ type: 'audit.created', group: 'audit', seq: 2, data: record(6) }));
    act(() => ws.serverSend({ type: 'audit.created', group: 'audit', seq: 3, data: record(7, { outcome: 'denied' }) }));
    await waitFor(() =>
      expect(screen.getAllByTestId(/^audit-row-/).map((r) => r.dataset.testid)).toEqual(['audit-row-7', 'audit-row-5']),
    );
    // The same record twice (e.g. after a refetch) is not duplicated.
    act(() => ws.serverSend({ type: 'audit.created', group: 'audit', seq: 4, data: record(7, { outcome: 'denied' }) }));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getAllByTestId(/^audit-row-/)).toHaveLength(2);
    expect(screen.getByTestId('audit-updated')).toBeInTheDocument();
  });

  it('refetches when the seq shows missed events', async () => {
    let calls = 0;
    mockFetch({
      ...tableViewsHandler(),
      'GET /api/audit/': () => {
        calls += 1;
        return json({ next: null, previous: null, results: calls === 1 ? [record(5)] : [record(9), record(8), record(7), record(5)] });
      },
    });
    renderAt(<AuditPage />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('audit-row-5');
    const ws = openSocket();
    act(() => ws.serverSend({ type: 'subscribed', group: 'audit', seq: 1 }));
    act(() => ws.serverSend({ type: 'audit.created', group: 'audit', seq: 4, data: record(9) }));
    expect(await screen.findByTestId('audit-row-7')).toBeInTheDocument();
    expect(calls).toBe(2);
  });

  it('exports the current filters and shows a too-large refusal', async () => {
    const seen = mockFetch({
      ...tableViewsHandler(),
      'GET /api/audit/': () => json({ next: null, previous: null, results: [record(5)] }),
      'GET /api/audit/export/': () =>
        json(
          { detail: 'More than 100000 records match; narrow the filters.', code: 'audit_export_too_large', params: { limit: 100000 } },
          { status: 400 },
        ),
    });
    renderAt(<AuditPage />, { route: '/?cluster=seoul-1', queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('audit-row-5');
    const user = userEvent.setup();
    await user.click(screen.getByTestId('audit-export'));
    expect(await screen.findByTestId('audit-export-error')).toBeInTheDocument();
    const exported = seen.find((r) => new URL(r.url).pathname === '/api/audit/export/')!;
    expect(new URL(exported.url).searchParams.get('cluster')).toBe('seoul-1');
    expect(exported.headers.get('Accept')).toBe('text/csv');
  });
});

describe('matchesFilters', () => {
  it('follows the server rules', () => {
    const r = record(1, { workspace: { id: 4, name: 'team-a' }, cluster: null, actor: 'Kim', target_repr: 'web-frontend' });
    expect(matchesFilters(r, EMPTY_FILTERS)).toBe(true);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, actor: 'kim' })).toBe(true);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, action: 'token.*' })).toBe(true);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, action: 'token' })).toBe(false);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, workspace: '4' })).toBe(true);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, workspace: 'team-a' })).toBe(true);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, cluster: 'seoul-1' })).toBe(false);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, target: 'FRONT' })).toBe(true);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, target: 'portal.apitoken' })).toBe(true);
    expect(matchesFilters(r, { ...EMPTY_FILTERS, outcome: 'denied' })).toBe(false);
  });
});
