/**
 * The console's one table: TanStack Table for columns and (server-side) sorting state, TanStack
 * Virtual for rows beyond VIRTUALISE_AFTER inside a real <table> (sticky header, spacer rows),
 * keyset paging (onLoadMore when the rendered range nears the end), roving focus on rows,
 * responsive hiding of low-priority columns and a "Columns" chooser with saved sets per user.
 * See docs/console.md and /work/coord/CONSOLE.md for the contract.
 */
import {
  getCoreRowModel,
  useReactTable,
  type Cell,
  type ColumnDef,
  type Row,
  type SortingState,
  type VisibilityState,
} from '@tanstack/react-table';
import { measureElement, observeElementRect, useVirtualizer, type Virtualizer } from '@tanstack/react-virtual';
import {
  memo,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type KeyboardEvent,
  type ReactElement,
  type ReactNode,
} from 'react';
import { useTranslation } from 'react-i18next';
import { ErrorState } from '../ErrorState';
import { Loading } from '../Loading';
import { ColumnChooser, type ChooserColumn } from './ColumnChooser';
import { hiddenPriorities, INITIAL_PRIORITY, nextPriorityState, type HideLevel, type PriorityState } from './priority';
import type { DataColumnMeta, TableView } from './types';
import { useTableViews } from './views';
import './table.css';

/** Up to this many rows every row is rendered; beyond it rows are virtualised. */
export const VIRTUALISE_AFTER = 50;
/** Rows' estimated height before they are measured (px). */
export const ESTIMATED_ROW_HEIGHT = 40;
/** Load the next page when the last rendered row is this close to the end. */
export const LOAD_AHEAD = 20;
/**
 * The viewport height assumed while the scroll box has no layout (0 px: jsdom in unit tests,
 * or a hidden tab): the virtualiser then renders this many pixels' worth of rows.
 */
export const FALLBACK_VIEWPORT = 800;

export interface DataTableProps<T> {
  tableKey: string;
  label: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  columns: ColumnDef<T, any>[];
  rows: readonly T[];
  getRowId: (row: T) => string;
  ordering?: string | null;
  onOrderingChange?: (ordering: string | null) => void;
  hasMore?: boolean;
  loadingMore?: boolean;
  onLoadMore?: () => void;
  loading?: boolean;
  error?: unknown;
  empty?: ReactNode;
  toolbar?: ReactNode;
  onRowActivate?: (row: T) => void;
  rowClassName?: (row: T) => string | undefined;
  rowTestId?: (row: T) => string;
  /** Extra data-* attributes of each <tr> (e.g. data-status for tests and styling). */
  rowAttributes?: (row: T) => Record<`data-${string}`, string | undefined>;
  /** data-testid of a sort button (default `sort-<sortKey>`), to keep older test ids. */
  sortTestId?: (sortKey: string) => string;
  /** Shown as a Retry button next to an error. */
  onRetry?: () => void;
  testId?: string;
  maxHeight?: number | string;
}

const observeWithFallback: typeof observeElementRect = (instance, cb) =>
  observeElementRect(instance, (rect) =>
    cb(rect.height > 0 ? rect : { width: rect.width > 0 ? rect.width : 1024, height: FALLBACK_VIEWPORT }),
  );

/** A row without layout (jsdom) keeps its estimated height instead of collapsing to 0 px. */
const measureWithFallback: typeof measureElement = (element, entry, instance) => {
  const size = measureElement(element, entry, instance);
  return size > 0 ? size : ESTIMATED_ROW_HEIGHT;
};

function metaOf(column: { columnDef: { meta?: DataColumnMeta } }): DataColumnMeta | undefined {
  return column.columnDef.meta;
}

function columnId<T>(c: ColumnDef<T, unknown>): string {
  return c.id ?? ('accessorKey' in c ? String(c.accessorKey) : '');
}

/** The next ordering when a header is clicked: ascending, then descending, then the server's default. */
export function cycleOrdering(current: string | null | undefined, key: string): string | null {
  if (current === key) return `-${key}`;
  if (current === `-${key}`) return null;
  return key;
}

interface BodyRowProps<T> {
  row: Row<T>;
  index: number;
  active: boolean;
  /** The visible columns' ids: cells re-render when they change. */
  visibleKey: string;
  /** The column definitions (identity): cells re-render when they change (e.g. a clock in a cell). */
  columns: unknown;
  className: string;
  testId?: string;
  attrs?: Record<`data-${string}`, string | undefined>;
  measure?: (el: HTMLTableRowElement | null) => void;
  onFocusRow: (index: number) => void;
}

function sameAttrs(a: BodyRowProps<unknown>['attrs'], b: BodyRowProps<unknown>['attrs']): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const ka = Object.keys(a) as `data-${string}`[];
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * A cell's content. TanStack's `flexRender` mounts a function cell as a component, so a column
 * list rebuilt by its page (`t` changes when a section of strings arrives, `now` ticks) gives every
 * cell a new component type: React unmounts and remounts them, and an open menu, a dialog or an
 * action's status inside a row is lost. Cell functions call no hooks (they return elements), so
 * they are called here; the elements they return keep their state across a rebuild.
 */
function renderCell<T>(cell: Cell<T, unknown>): ReactNode {
  const def = cell.column.columnDef.cell;
  return typeof def === 'function' ? def(cell.getContext()) : (def ?? null);
}

function BodyRowImpl<T>({ row, index, active, className, testId, attrs, measure, onFocusRow }: BodyRowProps<T>) {
  return (
    <tr
      {...attrs}
      data-index={index}
      ref={measure}
      tabIndex={active ? 0 : -1}
      className={className}
      data-testid={testId}
      aria-rowindex={index + 2}
      onFocus={(e) => {
        if (e.target === e.currentTarget) onFocusRow(index);
      }}
    >
      {row.getVisibleCells().map((cell) => {
        const meta = metaOf(cell.column);
        const cls = [meta?.align === 'end' ? 'dt-num' : '', meta?.className ?? ''].filter(Boolean).join(' ');
        return (
          <td key={cell.id} className={cls || undefined} data-testid={meta?.cellTestId}>
            {renderCell(cell)}
          </td>
        );
      })}
    </tr>
  );
}

/** A body row that re-renders only when its row, position, focus, columns or attributes change (a scroll frame renders only the rows entering the window). */
const BodyRow = memo(BodyRowImpl, (a, b) => {
  // The Row object is rebuilt whenever the window moves; the row is the same while its data and id are.
  if (a.row.original !== b.row.original || a.row.id !== b.row.id) return false;
  const keys: (keyof BodyRowProps<unknown>)[] = ['index', 'active', 'visibleKey', 'columns', 'className', 'testId', 'measure', 'onFocusRow'];
  return keys.every((k) => Object.is(a[k], b[k])) && sameAttrs(a.attrs, b.attrs);
}) as <T>(props: BodyRowProps<T> & { key?: string }) => ReactElement;

export function DataTable<T>({
  tableKey,
  label,
  columns,
  rows,
  getRowId,
  ordering = null,
  onOrderingChange,
  hasMore = false,
  loadingMore = false,
  onLoadMore,
  loading = false,
  error,
  empty,
  toolbar,
  onRowActivate,
  rowClassName,
  rowTestId,
  rowAttributes,
  sortTestId,
  onRetry,
  testId,
  maxHeight = '70vh',
}: DataTableProps<T>) {
  const { t } = useTranslation();
  const ids = useMemo(() => columns.map((c) => columnId(c as ColumnDef<T, unknown>)), [columns]);
  const metaById = useMemo(() => {
    const out = new Map<string, DataColumnMeta>();
    columns.forEach((c, i) => out.set(ids[i]!, (c.meta as DataColumnMeta | undefined) ?? { label: ids[i]! }));
    return out;
  }, [columns, ids]);

  // --- which columns the user wants (saved set, or the columns' defaults) -----------------
  const views = useTableViews(tableKey);
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [activeViewId, setActiveViewId] = useState<number | null>(null);
  const defaultApplied = useRef(false);
  useEffect(() => {
    if (defaultApplied.current || !views.data) return;
    defaultApplied.current = true;
    const preferred = views.data.find((v) => v.is_default);
    if (preferred && chosen === null) {
      setChosen(preferred.columns);
      setActiveViewId(preferred.id);
    }
  }, [views.data, chosen]);

  const userVisible = useMemo(() => {
    const known = chosen?.filter((id) => metaById.has(id)) ?? [];
    const out: Record<string, boolean> = {};
    for (const id of ids) out[id] = known.length > 0 ? known.includes(id) : !metaById.get(id)?.defaultHidden;
    return out;
  }, [chosen, ids, metaById]);
  const chosenIds = useMemo(() => ids.filter((id) => userVisible[id]), [ids, userVisible]);

  const applyView = useCallback((view: TableView | null) => {
    setChosen(view ? view.columns : null);
    setActiveViewId(view ? view.id : null);
  }, []);
  const toggle = useCallback(
    (id: string, visible: boolean) => {
      setChosen(ids.filter((c) => (c === id ? visible : userVisible[c])));
      setActiveViewId(null);
    },
    [ids, userVisible],
  );

  // --- responsive hiding ---------------------------------------------------------------
  const [fit, setFit] = useState<PriorityState>(INITIAL_PRIORITY);
  const chosenKey = chosenIds.join(',');
  const fitColumns = useRef(chosenKey);
  const priorityOf = useCallback((id: string) => metaById.get(id)?.priority ?? 1, [metaById]);
  const hiddenAt = useCallback(
    (level: HideLevel) => chosenIds.filter((id) => hiddenPriorities(level).includes(priorityOf(id))).length,
    [chosenIds, priorityOf],
  );
  const hiddenNow = hiddenPriorities(fit.level);
  const columnVisibility: VisibilityState = useMemo(() => {
    const out: VisibilityState = {};
    for (const id of ids) out[id] = Boolean(userVisible[id]) && !hiddenNow.includes(priorityOf(id));
    return out;
  }, [ids, userVisible, hiddenNow.join(','), priorityOf]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const tableRef = useRef<HTMLTableElement>(null);
  const [resizeTick, setResizeTick] = useState(0);
  useEffect(() => {
    const el = scrollRef.current;
    if (!el || typeof ResizeObserver === 'undefined') return undefined;
    const observer = new ResizeObserver(() => setResizeTick((n) => n + 1));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  // Measured after layout when the box, the columns, the rows or the level change (not on every
  // scroll-driven render: reading widths forces a layout).
  useLayoutEffect(() => {
    // Other columns chosen: the widths remembered no longer hold; start again from everything shown.
    const changed = fitColumns.current !== chosenKey;
    fitColumns.current = chosenKey;
    if (changed && fit.level !== 0) {
      setFit(INITIAL_PRIORITY);
      return;
    }
    const box = scrollRef.current?.clientWidth ?? 0;
    const width = tableRef.current?.scrollWidth ?? 0;
    setFit((state) => {
      const base = changed ? INITIAL_PRIORITY : state;
      return nextPriorityState(base, box, width, (level) => hiddenAt(level) > hiddenAt(base.level));
    });
  }, [resizeTick, chosenKey, rows.length, fit.level, hiddenAt, loading]);

  // --- TanStack Table ------------------------------------------------------------------
  const sorting: SortingState = useMemo(() => {
    if (!ordering) return [];
    const key = ordering.replace(/^-/, '');
    const id = ids.find((c) => metaById.get(c)?.sortKey === key);
    return id ? [{ id, desc: ordering.startsWith('-') }] : [];
  }, [ordering, ids, metaById]);
  // --- virtualisation ------------------------------------------------------------------
  // The virtualiser counts every loaded row; TanStack Table is given only the rows in the window
  // (its core row model builds an object per row, which for 10,000 rows was a long task every
  // time a page arrived). Sorting is the server's and nothing filters on the client, so the
  // window's rows are exactly what the whole model would have held there.
  const virtualise = rows.length > VIRTUALISE_AFTER;
  const virtualizer = useVirtualizer<HTMLDivElement, HTMLTableRowElement>({
    count: virtualise ? rows.length : 0,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ESTIMATED_ROW_HEIGHT,
    overscan: 10,
    // Render the rows a scroll brings in with React's next batch, not synchronously inside the
    // scroll event (flushSync): a scroll frame then does its work once.
    useFlushSync: false,
    observeElementRect: observeWithFallback,
    measureElement: measureWithFallback,
    getItemKey: (index) => (rows[index] === undefined ? index : getRowId(rows[index] as T)),
  });
  const virtualItems = virtualise ? virtualizer.getVirtualItems() : [];
  const windowStart = virtualise && virtualItems.length > 0 ? virtualItems[0]!.index : 0;
  const windowEnd = virtualise ? (virtualItems.length > 0 ? virtualItems[virtualItems.length - 1]!.index + 1 : 0) : rows.length;
  const windowRows = useMemo(
    () => (virtualise ? rows.slice(windowStart, windowEnd) : rows) as T[],
    [rows, virtualise, windowStart, windowEnd],
  );
  const table = useReactTable<T>({
    data: windowRows,
    columns,
    getRowId: (row) => getRowId(row),
    getCoreRowModel: getCoreRowModel(),
    manualSorting: true,
    enableSorting: true,
    state: { sorting, columnVisibility },
  });
  const modelRows = table.getRowModel().rows; // modelRows[k] is rows[windowStart + k]
  const visibleColumns = table.getVisibleLeafColumns();
  const indexes = modelRows.map((_, k) => windowStart + k);
  const padTop = virtualise && virtualItems.length > 0 ? virtualItems[0]!.start : 0;
  const padBottom =
    virtualise && virtualItems.length > 0 ? Math.max(0, virtualizer.getTotalSize() - virtualItems[virtualItems.length - 1]!.end) : 0;
  const lastRendered = indexes.length > 0 ? indexes[indexes.length - 1]! : -1;

  // --- keyset paging -------------------------------------------------------------------
  useEffect(() => {
    if (!onLoadMore || !hasMore || loadingMore || rows.length === 0) return;
    if (lastRendered >= rows.length - 1 - LOAD_AHEAD) onLoadMore();
  }, [lastRendered, rows.length, hasMore, loadingMore, onLoadMore]);

  // --- roving focus --------------------------------------------------------------------
  const [activeIndex, setActiveIndex] = useState(0);
  const wantFocus = useRef(false);
  const bodyRef = useRef<HTMLTableSectionElement>(null);
  useEffect(() => {
    if (activeIndex > rows.length - 1) setActiveIndex(Math.max(0, rows.length - 1));
  }, [rows.length, activeIndex]);
  useEffect(() => {
    if (!wantFocus.current) return;
    const el = bodyRef.current?.querySelector<HTMLTableRowElement>(`tr[data-index="${activeIndex}"]`);
    if (el) {
      wantFocus.current = false;
      el.focus();
    }
  });
  const pageStep = () => {
    const h = scrollRef.current?.clientHeight || FALLBACK_VIEWPORT;
    return Math.max(1, Math.floor(h / ESTIMATED_ROW_HEIGHT) - 1);
  };
  const moveTo = (index: number) => {
    const next = Math.min(Math.max(0, index), rows.length - 1);
    if (next < 0) return;
    wantFocus.current = true;
    setActiveIndex(next);
    if (virtualise) virtualizer.scrollToIndex(next, { align: 'auto' });
  };
  const onBodyKeyDown = (e: KeyboardEvent<HTMLTableSectionElement>) => {
    const tr = e.target instanceof HTMLElement ? e.target.closest('tr[data-index]') : null;
    if (!(tr instanceof HTMLTableRowElement)) return;
    const index = Number(tr.dataset.index);
    const onRow = e.target === tr;
    switch (e.key) {
      case 'ArrowDown':
        moveTo(index + 1);
        break;
      case 'ArrowUp':
        moveTo(index - 1);
        break;
      case 'Home':
        if (!onRow) return;
        moveTo(0);
        break;
      case 'End':
        if (!onRow) return;
        moveTo(rows.length - 1);
        break;
      case 'PageDown':
        moveTo(index + pageStep());
        break;
      case 'PageUp':
        moveTo(index - pageStep());
        break;
      case 'Enter': {
        if (!onRow || !onRowActivate) return;
        const row = rows[index];
        if (row !== undefined) onRowActivate(row);
        break;
      }
      default:
        return;
    }
    e.preventDefault();
  };

  // --- render --------------------------------------------------------------------------
  const chooserColumns: ChooserColumn[] = ids.map((id) => ({
    id,
    label: metaById.get(id)?.label ?? id,
    visible: Boolean(userVisible[id]),
    hiddenByWidth: hiddenNow.includes(priorityOf(id)),
  }));
  const colSpan = Math.max(1, visibleColumns.length);
  const onFocusRow = useCallback((index: number) => setActiveIndex(index), []);
  const visibleKey = visibleColumns.map((c) => c.id).join(',');
  const renderRow = (row: Row<T>, index: number, v?: Virtualizer<HTMLDivElement, HTMLTableRowElement>) => {
    const extra = rowClassName?.(row.original);
    return (
      <BodyRow<T>
        key={row.id}
        row={row}
        index={index}
        active={index === activeIndex}
        visibleKey={visibleKey}
        columns={columns}
        className={extra ? `dt-row ${extra}` : 'dt-row'}
        testId={rowTestId?.(row.original)}
        attrs={rowAttributes?.(row.original)}
        measure={v ? v.measureElement : undefined}
        onFocusRow={onFocusRow}
      />
    );
  };

  return (
    <div className="dt" data-table-key={tableKey}>
      <div className="dt-toolbar">
        <div className="dt-toolbar-main">{toolbar}</div>
        <ColumnChooser
          tableKey={tableKey}
          columns={chooserColumns}
          onToggle={toggle}
          views={views.data}
          viewsError={views.isError}
          activeViewId={activeViewId}
          onApplyView={applyView}
          chosenIds={chosenIds}
        />
      </div>
      <div className="dt-scroll" ref={scrollRef} style={{ maxHeight }} data-testid={testId ? `${testId}-scroll` : undefined}>
        <table
          ref={tableRef}
          className="dt-table"
          aria-label={label}
          aria-rowcount={hasMore ? -1 : rows.length + 1}
          data-testid={testId}
          data-level={fit.level}
          data-rows={rows.length}
        >
          <thead>
            {table.getHeaderGroups().map((group) => (
              <tr key={group.id} aria-rowindex={1}>
                {group.headers.map((header) => {
                  const meta = metaOf(header.column);
                  const text = meta?.label ?? header.column.id;
                  const sortKey = meta?.sortKey;
                  const dir = header.column.getIsSorted();
                  const cls = [meta?.align === 'end' ? 'dt-num' : '', meta?.className ?? ''].filter(Boolean).join(' ');
                  return (
                    <th
                      key={header.id}
                      scope="col"
                      className={cls || undefined}
                      title={meta?.headerTitle}
                      data-column={header.column.id}
                      aria-sort={sortKey ? (dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : 'none') : undefined}
                    >
                      {sortKey && onOrderingChange ? (
                        <button
                          type="button"
                          className="dt-sort"
                          data-testid={sortTestId ? sortTestId(sortKey) : `sort-${sortKey}`}
                          onClick={() => onOrderingChange(cycleOrdering(ordering, sortKey))}
                        >
                          {text}
                          <span aria-hidden="true" className="dt-sort-mark">
                            {dir === 'asc' ? '▲' : dir === 'desc' ? '▼' : '↕'}
                          </span>
                        </button>
                      ) : (
                        text
                      )}
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          <tbody ref={bodyRef} onKeyDown={onBodyKeyDown}>
            {padTop > 0 && (
              <tr className="dt-spacer" aria-hidden="true">
                <td colSpan={colSpan} style={{ height: padTop }} />
              </tr>
            )}
            {modelRows.map((row, k) => renderRow(row, windowStart + k, virtualise ? virtualizer : undefined))}
            {padBottom > 0 && (
              <tr className="dt-spacer" aria-hidden="true">
                <td colSpan={colSpan} style={{ height: padBottom }} />
              </tr>
            )}
            {rows.length === 0 && (
              <tr className="dt-message">
                <td colSpan={colSpan}>
                  {error ? <ErrorState error={error} onRetry={onRetry} /> : loading ? <Loading /> : (empty ?? <span className="dt-muted">{t('table.empty')}</span>)}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {(rows.length > 0 || hasMore) && (
        <div className="dt-footer small">
          <span className="dt-muted" data-testid={testId ? `${testId}-count` : undefined}>
            {hasMore ? t('table.rowCountMore', { count: rows.length }) : t('table.rowCount', { count: rows.length })}
          </span>
          {rows.length > 0 && error ? <ErrorState error={error} onRetry={onRetry} /> : null}
          {loadingMore && (
            <span role="status" className="dt-muted">
              {t('table.loadingMore')}
            </span>
          )}
          {hasMore && !loadingMore && onLoadMore && (
            <button type="button" className="btn btn-small" onClick={onLoadMore} data-testid="table-load-more">
              {t('table.loadMore')}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
