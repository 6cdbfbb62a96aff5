import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../api/types';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { getSocket } from '../lib/socket';
import { AuditPage } from './AuditPage';
import { EMPTY_FILTERS } from './queries';

function record(id: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
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
    ...overrides,
  };
}

function openSocket() {
  getSocket().start();
  const ws = FakeWebSocket.latest();
  act(() => ws.serverOpen());
  return ws;
}

describe('AuditPage', () => {
  it('lists records and pages with the next/previous cursors', async () => {
    const seen = mockFetch({
      'GET /api/audit/': (req) => {
        const cursor = new URL(req.url).searchParams.get('cursor');
        if (cursor === 'p2') {
          return json({ next: null, previous: 'http://testserver/api/audit/?cursor=p1back', results: [record(1)] });
        }
        return json({ next: 'http://testserver/api/audit/?cursor=p2', previous: null, results: [record(3), record(2, { outcome: 'denied', actor: null })] });
      },
    });
    renderAt(<AuditPage />, { queryClient: testQueryClient(adminUser) });
    const list = await screen.findByTestId('audit-list');
    expect(within(list).getByTestId('audit-row-3')).toHaveTextContent('API token created'); // in words, the code in a tooltip
    expect(within(within(list).getByTestId('audit-row-3')).getByTestId('audit-action')).toHaveAttribute('title', 'token.create');
    expect(within(list).getByTestId('audit-row-3')).toHaveTextContent('req-3');
    expect(within(list).getByTestId('audit-row-2')).toHaveTextContent('Denied');
    expect(within(list).getByTestId('audit-row-2')).toHaveTextContent('system');
    expect(screen.getByTestId('page-previous')).toBeDisabled();

    const user = userEvent.setup();
    await user.click(screen.getByTestId('page-next'));
    expect(await screen.findByTestId('audit-row-1')).toBeInTheDocument();
    expect(screen.getByTestId('location')).toHaveTextContent('/?cursor=p2');
    expect(new URL(seen.at(-1)!.url).searchParams.get('cursor')).toBe('p2');
    expect(screen.getByTestId('audit-live')).toHaveAttribute('data-live', 'false');
  });

  it('sends the filters as query parameters', async () => {
    const seen = mockFetch({
      'GET /api/audit/': () => json({ next: null, previous: null, results: [] }),
    });
    renderAt(<AuditPage />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('audit-empty');
    const user = userEvent.setup();
    const filters = screen.getByTestId('audit-filters');
    await user.type(within(filters).getByRole('textbox', { name: 'Actor' }), 'kim');
    await user.type(within(filters).getByRole('textbox', { name: 'Action' }), 'token.*');
    await user.selectOptions(within(filters).getByRole('combobox', { name: 'Outcome' }), 'denied');
    await user.type(within(filters).getByLabelText('From'), '2026-11-01');
    await user.type(within(filters).getByLabelText('To'), '2026-11-20');
    await user.click(within(filters).getByRole('button', { name: 'Apply' }));
    await waitFor(() => expect(new URL(seen.at(-1)!.url).searchParams.get('actor')).toBe('kim'));
    const params = new URL(seen.at(-1)!.url).searchParams;
    expect(params.get('action')).toBe('token.*');
    expect(params.get('outcome')).toBe('denied');
    expect(params.get('since')).toBe(new Date('2026-11-01T00:00:00').toISOString());
    expect(params.get('until')).toBe(new Date('2026-11-20T23:59:59.999').toISOString());
    expect(params.has('cursor')).toBe(false);
  });

  it('prepends live records from the audit group when unfiltered', async () => {
    mockFetch({ 'GET /api/audit/': () => json({ next: null, previous: null, results: [record(5)] }) });
    const { queryClient } = renderAt(<AuditPage />, { queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('audit-row-5');
    const ws = openSocket();
    expect(ws.sent).toContainEqual({ type: 'subscribe', group: 'audit' });
    act(() => ws.serverSend({ type: 'subscribed', group: 'audit', seq: 40 }));
    act(() => ws.serverSend({ type: 'audit.created', group: 'audit', seq: 41, data: record(6, { action: 'auth.login' }) }));
    // The page reads the cache; the socket only wrote to it.
    await waitFor(() =>
      expect(screen.getAllByTestId(/^audit-row-/).map((r) => r.dataset.testid)).toEqual(['audit-row-6', 'audit-row-5']),
    );
    expect(queryClient.getQueryData<{ results: AuditRecord[] }>(['audit', 'list', EMPTY_FILTERS, null])?.results).toHaveLength(2);
    // The same record twice (e.g. after a refetch) is not duplicated.
    act(() => ws.serverSend({ type: 'audit.created', group: 'audit', seq: 42, data: record(6) }));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getAllByTestId(/^audit-row-/)).toHaveLength(2);
  });

  it('does not prepend into a filtered view', async () => {
    mockFetch({ 'GET /api/audit/': () => json({ next: null, previous: null, results: [record(5, { outcome: 'denied' })] }) });
    renderAt(<AuditPage />, { route: '/?outcome=denied', queryClient: testQueryClient(adminUser) });
    await screen.findByTestId('audit-row-5');
    const ws = openSocket();
    act(() => ws.serverSend({ type: 'subscribed', group: 'audit', seq: 1 }));
    act(() => ws.serverSend({ type: 'audit.created', group: 'audit', seq: 2, data: record(6) }));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.queryByTestId('audit-row-6')).not.toBeInTheDocument();
    expect(screen.getByTestId('audit-live')).toHaveAttribute('data-live', 'false');
  });

  it('refetches when the seq shows missed events', async () => {
    let calls = 0;
    mockFetch({
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
});
