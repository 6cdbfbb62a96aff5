/**
 * Calls to the monitoring API (/api/monitoring/: charts, top lists, events, metering, prices)
 * through `request` (CSRF, 401 handling, `ApiError` with the body's code), typed by types.ts.
 */
import { buildUrl, request, type QueryValue } from '../api/request';
import type {
  ChartResponse,
  ChartScope,
  CursorPage,
  EventQuery,
  EventRow,
  MeteringQuery,
  MeteringReport,
  PriceSheet,
  PriceSheetBody,
  TopResource,
  TopResponse,
  TopWhat,
} from './types';

const BASE = '/api/monitoring';

export interface TimeWindow {
  start: number; // epoch seconds
  end: number;
  step: number;
}

/** The chart API's query parameters of a scope and a window. */
export function chartParams(scope: ChartScope, window: TimeWindow): Record<string, QueryValue> {
  return { ...scope, start: window.start, end: window.end, step: window.step };
}

/** Rows of a list answer, paginated or not. */
export function rowsOf<T>(data: CursorPage<T> | T[] | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.results;
}

export const monitoringApi = {
  chart: (scope: ChartScope, window: TimeWindow, signal?: AbortSignal) =>
    request<ChartResponse>('GET', `${BASE}/charts/`, { query: chartParams(scope, window), signal }),
  top: (what: TopWhat, scope: { cluster?: number; workspace?: number; service_map?: number }, limit = 10, signal?: AbortSignal, resource?: TopResource) =>
    request<TopResponse>('GET', `${BASE}/top/`, { query: { what, ...scope, limit, resource }, signal }),
  events: (query: EventQuery, cursor: string | null, signal?: AbortSignal) =>
    request<CursorPage<EventRow>>('GET', `${BASE}/events/`, { query: { ...query, cursor, page_size: 100 }, signal }),
  metering: (query: MeteringQuery, signal?: AbortSignal) =>
    request<MeteringReport>('GET', `${BASE}/metering/`, { query: { ...query }, signal }),
  prices: (signal?: AbortSignal) =>
    request<CursorPage<PriceSheet> | PriceSheet[]>('GET', `${BASE}/prices/`, { query: { page_size: 500 }, signal }).then(rowsOf),
  createPrice: (body: PriceSheetBody) => request<PriceSheet>('POST', `${BASE}/prices/`, { body }),
  patchPrice: (id: number, body: PriceSheetBody) => request<PriceSheet>('PATCH', `${BASE}/prices/${id}/`, { body }),
  deletePrice: (id: number) => request<void>('DELETE', `${BASE}/prices/${id}/`),
};

/** The link of the metering report as CSV (a plain download; the session cookie authenticates). */
export function meteringCsvUrl(query: MeteringQuery): string {
  const url = new URL(buildUrl(`${BASE}/metering/`, { ...query, format: 'csv' }));
  return url.pathname + url.search;
}
