import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { json, mockFetch, renderAt, testQueryClient, adminUser } from '../../test/utils';
import { DataTable, cycleOrdering, type ColumnDef } from './index';
import { scrollTable, setTableWidths, tableViewsHandler } from './testing';

interface Item {
  id: number;
  name: string;
  size: number;
  zone: string;
  note: string;
}

const items = (n: number): Item[] =>
  Array.from({ length: n }, (_, i) => ({ id: i + 1, name: `item-${i + 1}`, size: i * 10, zone: `z${i % 3}`, note: `note ${i}` }));

const columns: ColumnDef<Item, unknown>[] = [
  { id: 'name', accessorKey: 'name', meta: { label: 'Name', sortKey: 'name', cellTestId: 'cell-name' } },
  { id: 'size', accessorKey: 'size', meta: { label: 'Size', sortKey: 'size', align: 'end', priority: 2 } },
  { id: 'zone', accessorKey: 'zone', meta: { label: 'Zone', priority: 3 } },
  { id: 'note', accessorKey: 'note', meta: { label: 'Note', defaultHidden: true } },
];

function Harness({
  rows,
  onOrdering = () => undefined,
  onActivate,
  onLoadMore,
  hasMore = false,
}: {
  rows: Item[];
  onOrdering?: (o: string | null) => void;
  onActivate?: (row: Item) => void;
  onLoadMore?: () => void;
  hasMore?: boolean;
}) {
  const [ordering, setOrdering] = useState<string | null>(null);
  return (
    <DataTable<Item>
      tableKey="test.items"
      label="Items"
      columns={columns}
      rows={rows}
      getRowId={(r) => String(r.id)}
      ordering={ordering}
      onOrderingChange={(o) => {
        setOrdering(o);
        onOrdering(o);
      }}
      onRowActivate={onActivate}
      rowTestId={(r) => `row-${r.name}`}
      testId="items"
      hasMore={hasMore}
      onLoadMore={onLoadMore}
    />
  );
}

const renderTable = (ui: React.ReactElement) => renderAt(ui, { queryClient: testQueryClient(adminUser) });

describe('DataTable', () => {
  it('renders a real table with column headers, hidden-by-default columns off', async () => {
    mockFetch(tableViewsHandler());
    renderTable(<Harness rows={items(3)} />);
    const table = screen.getByRole('table', { name: 'Items' });
    const headers = within(table).getAllByRole('columnheader');
    expect(headers.map((h) => h.textContent?.replace(/[▲▼↕]/g, ''))).toEqual(['Name', 'Size', 'Zone']);
    headers.forEach((h) => expect(h).toHaveAttribute('scope', 'col'));
    expect(headers[0]).toHaveAttribute('aria-sort', 'none');
    expect(headers[2]).not.toHaveAttribute('aria-sort');
    expect(screen.getByTestId('row-item-2')).toHaveTextContent('10');
    expect(within(screen.getByTestId('row-item-1')).getByTestId('cell-name')).toHaveTextContent('item-1');
  });

  it('asks the server to sort: ascending, descending, then the default', async () => {
    mockFetch(tableViewsHandler());
    const onOrdering = vi.fn();
    renderTable(<Harness rows={items(3)} onOrdering={onOrdering} />);
    const user = userEvent.setup();
    await user.click(screen.getByTestId('sort-size'));
    expect(onOrdering).toHaveBeenLastCalledWith('size');
    expect(screen.getByRole('columnheader', { name: /Size/ })).toHaveAttribute('aria-sort', 'ascending');
    await user.click(screen.getByTestId('sort-size'));
    expect(onOrdering).toHaveBeenLastCalledWith('-size');
    expect(screen.getByRole('columnheader', { name: /Size/ })).toHaveAttribute('aria-sort', 'descending');
    await user.click(screen.getByTestId('sort-size'));
    expect(onOrdering).toHaveBeenLastCalledWith(null);
    expect(cycleOrdering('-name', 'size')).toBe('size');
  });

  it('virtualises long lists and loads the next page near the end', async () => {
    mockFetch(tableViewsHandler());
    const onLoadMore = vi.fn();
    renderTable(<Harness rows={items(2000)} hasMore onLoadMore={onLoadMore} />);
    const table = screen.getByTestId('items');
    const rendered = table.querySelectorAll('tbody tr.dt-row').length;
    expect(rendered).toBeGreaterThan(10);
    expect(rendered).toBeLessThan(100);
    expect(screen.getByTestId('row-item-1')).toBeInTheDocument();
    expect(screen.queryByTestId('row-item-1500')).not.toBeInTheDocument();
    expect(onLoadMore).not.toHaveBeenCalled();
    act(() => scrollTable(screen.getByTestId('items-scroll'), 2000 * 40 - 800));
    await waitFor(() => expect(screen.getByTestId('row-item-2000')).toBeInTheDocument());
    expect(onLoadMore).toHaveBeenCalled();
    expect(table.querySelector('tr.dt-spacer')).not.toBeNull();
  });

  it('moves focus between rows with the keyboard and opens one with Enter', async () => {
    mockFetch(tableViewsHandler());
    const onActivate = vi.fn();
    // 45 rows: all rendered (jsdom cannot scroll a virtualised box to the last row).
    renderTable(<Harness rows={items(45)} onActivate={onActivate} />);
    const first = screen.getByTestId('row-item-1');
    expect(first).toHaveAttribute('tabindex', '0');
    expect(screen.getByTestId('row-item-2')).toHaveAttribute('tabindex', '-1');
    const user = userEvent.setup();
    act(() => first.focus());
    await user.keyboard('{ArrowDown}');
    await waitFor(() => expect(screen.getByTestId('row-item-2')).toHaveFocus());
    expect(screen.getByTestId('row-item-2')).toHaveAttribute('tabindex', '0');
    await user.keyboard('{ArrowUp}');
    await waitFor(() => expect(first).toHaveFocus());
    await user.keyboard('{PageDown}');
    await waitFor(() => expect(screen.getByTestId('row-item-20')).toHaveFocus());
    await user.keyboard('{End}');
    await waitFor(() => expect(screen.getByTestId('row-item-45')).toHaveFocus());
    await user.keyboard('{Home}');
    await waitFor(() => expect(screen.getByTestId('row-item-1')).toHaveFocus());
    await user.keyboard('{ArrowDown}{Enter}');
    await waitFor(() => expect(onActivate).toHaveBeenCalledWith(expect.objectContaining({ name: 'item-2' })));
  });

  it('hides and shows columns from the Columns menu; Escape returns focus', async () => {
    mockFetch(tableViewsHandler());
    renderTable(<Harness rows={items(3)} />);
    const user = userEvent.setup();
    const button = screen.getByTestId('columns-button');
    expect(button).toHaveAttribute('aria-expanded', 'false');
    await user.click(button);
    expect(button).toHaveAttribute('aria-expanded', 'true');
    const panel = screen.getByRole('dialog', { name: 'Columns to show' });
    await user.click(within(panel).getByRole('checkbox', { name: 'Zone' }));
    expect(screen.queryByRole('columnheader', { name: 'Zone' })).not.toBeInTheDocument();
    await user.click(within(panel).getByRole('checkbox', { name: 'Note' }));
    expect(screen.getByRole('columnheader', { name: 'Note' })).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(button).toHaveFocus();
  });

  it('hides priority 3 columns first, then priority 2, when the box is narrow', async () => {
    mockFetch(tableViewsHandler());
    // Each visible column takes 200 px; in a 350 px box only Name fits, in 550 px Name and Size.
    let undo = setTableWidths(350, (cols) => cols * 200);
    const first = renderTable(<Harness rows={items(3)} />);
    await waitFor(() => expect(screen.getByTestId('items')).toHaveAttribute('data-level', '2'));
    expect(screen.getAllByRole('columnheader').map((h) => h.getAttribute('data-column'))).toEqual(['name']);
    undo();
    first.unmount();
    undo = setTableWidths(550, (cols) => cols * 200);
    renderTable(<Harness rows={items(3)} />);
    await waitFor(() => expect(screen.getByTestId('items')).toHaveAttribute('data-level', '1'));
    expect(screen.getAllByRole('columnheader').map((h) => h.getAttribute('data-column'))).toEqual(['name', 'size']);
    const user = userEvent.setup();
    await user.click(screen.getByTestId('columns-button'));
    expect(screen.getByRole('checkbox', { name: /Zone/ }).closest('label')).toHaveTextContent('narrow screen');
    undo();
  });

  it('opens with the default saved set, saves a new set and makes it the default', async () => {
    let views = [{ id: 7, table: 'test.items', name: 'Slim', columns: ['name'], is_default: true, updated: '2026-01-01T00:00:00Z' }];
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'GET /api/account/table-views/': () => json(views),
      'POST /api/account/table-views/': async (req) => {
        const body = (await req.json()) as { name: string; columns: string[] };
        return json({ id: 8, table: 'test.items', name: body.name, columns: body.columns, is_default: false, updated: '' }, { status: 201 });
      },
      'PATCH /api/account/table-views/8/': async (req) => {
        const body = (await req.json()) as { is_default: boolean };
        views = [{ ...views[0]!, is_default: false }];
        return json({ id: 8, table: 'test.items', name: 'Wide', columns: ['name', 'size', 'zone', 'note'], is_default: body.is_default, updated: '' });
      },
      'DELETE /api/account/table-views/8/': () => new Response(null, { status: 204 }),
    });
    renderTable(<Harness rows={items(3)} />);
    await waitFor(() => expect(screen.getAllByRole('columnheader')).toHaveLength(1));
    expect(new URL(seen[0]!.url).searchParams.get('table')).toBe('test.items');
    const user = userEvent.setup();
    await user.click(screen.getByTestId('columns-button'));
    expect(screen.getByTestId('view-select')).toHaveValue('7');
    await user.selectOptions(screen.getByTestId('view-select'), '');
    expect(screen.getAllByRole('columnheader')).toHaveLength(3);
    await user.click(screen.getByRole('checkbox', { name: 'Note' }));
    await user.click(screen.getByTestId('view-save-as'));
    await user.type(screen.getByTestId('view-name'), 'Wide');
    await user.click(screen.getByTestId('view-save'));
    await waitFor(() => expect(screen.getByTestId('view-select')).toHaveValue('8'));
    const post = seen.find((r) => r.method === 'POST')!;
    expect(await post.json()).toEqual({ table: 'test.items', name: 'Wide', columns: ['name', 'size', 'zone', 'note'] });
    await user.click(screen.getByTestId('view-make-default'));
    await waitFor(() => expect(screen.getByTestId('view-notice')).toHaveTextContent('"Wide" now opens by default.'));
    expect(screen.getByRole('option', { name: 'Wide (default)' })).toBeInTheDocument();
    expect(screen.getByRole('option', { name: 'Slim' })).toBeInTheDocument();
    await user.click(screen.getByTestId('view-delete'));
    await waitFor(() => expect(screen.queryByRole('option', { name: /Wide/ })).not.toBeInTheDocument());
    expect(screen.getByTestId('view-select')).toHaveValue('');
  });

  it('shows the empty message, loading and errors in the table body', async () => {
    mockFetch(tableViewsHandler());
    const onRetry = vi.fn();
    const props = { tableKey: 't', label: 'T', columns, rows: [] as Item[], getRowId: (r: Item) => String(r.id) };
    const empty = renderTable(<DataTable<Item> {...props} empty={<span>Nothing here</span>} />);
    expect(screen.getByText('Nothing here')).toBeInTheDocument();
    empty.unmount();
    const loading = renderTable(<DataTable<Item> {...props} loading />);
    expect(screen.getByRole('status')).toHaveTextContent('Loading');
    loading.unmount();
    renderTable(<DataTable<Item> {...props} error={new Error('boom')} onRetry={onRetry} />);
    expect(screen.getByRole('alert')).toHaveTextContent('boom');
    await userEvent.setup().click(screen.getByRole('button', { name: 'Retry' }));
    expect(onRetry).toHaveBeenCalled();
  });

  it('keeps the state inside a cell when the page rebuilds its columns', async () => {
    // A page rebuilds its column list when `t` changes (a section of strings arrives) or its clock
    // ticks; an open menu in a row must stay open (tests/browser/test_object_actions.py lost it).
    mockFetch(tableViewsHandler());
    function Toggle({ name }: { name: string }) {
      const [open, setOpen] = useState(false);
      return (
        <button type="button" onClick={() => setOpen(true)} data-testid={`toggle-${name}`}>
          {open ? 'open' : 'closed'}
        </button>
      );
    }
    function Rebuilding() {
      const [tick, setTick] = useState(0);
      const cols: ColumnDef<Item, unknown>[] = [
        { id: 'name', cell: ({ row }) => `${row.original.name} #${tick}`, meta: { label: 'Name' } },
        { id: 'menu', cell: ({ row }) => <Toggle name={row.original.name} />, meta: { label: 'Menu' } },
      ];
      return (
        <>
          <button type="button" onClick={() => setTick((n) => n + 1)} data-testid="rebuild">
            rebuild
          </button>
          <DataTable<Item> tableKey="test.rebuild" label="Items" columns={cols} rows={items(2)} getRowId={(r) => String(r.id)} />
        </>
      );
    }
    const user = userEvent.setup();
    renderTable(<Rebuilding />);
    await user.click(await screen.findByTestId('toggle-item-1'));
    expect(screen.getByTestId('toggle-item-1')).toHaveTextContent('open');
    await user.click(screen.getByTestId('rebuild'));
    await waitFor(() => expect(screen.getByText('item-1 #1')).toBeInTheDocument());
    expect(screen.getByTestId('toggle-item-1')).toHaveTextContent('open');
    expect(screen.getByTestId('toggle-item-2')).toHaveTextContent('closed');
  });
});
