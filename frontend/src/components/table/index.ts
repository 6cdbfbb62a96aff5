/** The console's table: `DataTable`, keyset paging and the column meta type (docs/console.md). */
export { DataTable, cycleOrdering, VIRTUALISE_AFTER, type DataTableProps } from './DataTable';
export { useKeysetList, nextCursor, pagingProps, type KeysetList } from './useKeysetList';
export { useTableViews, tableViewsKey } from './views';
export type { DataColumnMeta, ColumnPriority, KeysetPage, TableView } from './types';
export type { ColumnDef } from '@tanstack/react-table';
export { createColumnHelper } from '@tanstack/react-table';
