/** Column meta of the DataTable (module augmentation of TanStack Table's ColumnMeta). */
import type { RowData } from '@tanstack/react-table';

export type ColumnPriority = 1 | 2 | 3;

export interface DataColumnMeta {
  /** Header text and column-chooser label (already translated). */
  label: string;
  /** The API `ordering` name; the column is sortable only when set. */
  sortKey?: string;
  /** 1 always shown; 3 hidden first, then 2, when the table is narrower than its columns. */
  priority?: ColumnPriority;
  /** 'end' for numbers. */
  align?: 'start' | 'end';
  /** Off until the user turns it on. */
  defaultHidden?: boolean;
  /** data-testid on each cell of the column. */
  cellTestId?: string;
  /** A hint shown as the header's title (e.g. what the figures mean). */
  headerTitle?: string;
  /** Extra class on the column's cells (th and td), e.g. 'nowrap'. */
  className?: string;
}

declare module '@tanstack/react-table' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface ColumnMeta<TData extends RowData, TValue> extends DataColumnMeta {}
}

/** One saved column set (GET /api/account/table-views/?table=<key>). */
export interface TableView {
  id: number;
  table: string;
  name: string;
  columns: string[];
  is_default: boolean;
  updated: string;
}

export interface KeysetPage<T> {
  results: T[];
  /** The next page's link (or bare cursor); null/absent on the last page. */
  next?: string | null;
}
