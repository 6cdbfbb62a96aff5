/**
 * Calls to the monitoring API's alert part (/api/monitoring/alerts|rules|silences|channels|
 * notifications/, MONITORING.md) through `request` (CSRF, 401 handling, `ApiError` with the body's
 * code and field errors), typed by the hand-written types of types.ts until the endpoints are in
 * the generated schema.
 */
import { request } from '../api/request';
import type {
  Alert,
  AlertDetail,
  AlertQuery,
  AlertRule,
  Channel,
  ChannelBody,
  ListOf,
  Notification,
  Page,
  RuleBody,
  Silence,
  SilenceBody,
  TestResult,
} from './types';

const BASE = '/api/monitoring';

/** The rows of a list answer, paginated or not. */
export function rowsOf<T>(data: ListOf<T> | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.results;
}

/** A list answer as a page (a plain array becomes one page without a next). */
export function pageOf<T>(data: ListOf<T>): Page<T> {
  return Array.isArray(data) ? { results: data, next: null } : data;
}

/** The `cursor` parameter of a keyset pagination `next` link. */
export function cursorOf(next: string | null | undefined): string | undefined {
  if (!next) return undefined;
  try {
    return new URL(next, 'http://localhost').searchParams.get('cursor') ?? undefined;
  } catch {
    return undefined;
  }
}

export const alertsApi = {
  alerts: (query: AlertQuery, signal?: AbortSignal) =>
    request<ListOf<Alert>>('GET', `${BASE}/alerts/`, { query: { page_size: 100, ...query }, signal }).then(pageOf),
  alert: (id: number, signal?: AbortSignal) => request<AlertDetail>('GET', `${BASE}/alerts/${id}/`, { signal }),
  acknowledge: (id: number, note: string) => request<AlertDetail>('POST', `${BASE}/alerts/${id}/acknowledge/`, { body: { note } }),
  resolve: (id: number, note: string) => request<AlertDetail>('POST', `${BASE}/alerts/${id}/resolve/`, { body: { note } }),
  notifications: (alert: number, signal?: AbortSignal) =>
    request<ListOf<Notification>>('GET', `${BASE}/notifications/`, { query: { alert, page_size: 100 }, signal }).then(rowsOf),

  rules: (signal?: AbortSignal) => request<ListOf<AlertRule>>('GET', `${BASE}/rules/`, { query: { page_size: 500 }, signal }).then(rowsOf),
  rule: (id: number, signal?: AbortSignal) => request<AlertRule>('GET', `${BASE}/rules/${id}/`, { signal }),
  createRule: (body: RuleBody) => request<AlertRule>('POST', `${BASE}/rules/`, { body }),
  patchRule: (id: number, body: RuleBody) => request<AlertRule>('PATCH', `${BASE}/rules/${id}/`, { body }),
  deleteRule: (id: number) => request<void>('DELETE', `${BASE}/rules/${id}/`),

  silences: (signal?: AbortSignal) => request<ListOf<Silence>>('GET', `${BASE}/silences/`, { query: { page_size: 500 }, signal }).then(rowsOf),
  createSilence: (body: SilenceBody) => request<Silence>('POST', `${BASE}/silences/`, { body }),
  expireSilence: (id: number) => request<Silence>('POST', `${BASE}/silences/${id}/expire/`),

  channels: (signal?: AbortSignal) => request<ListOf<Channel>>('GET', `${BASE}/channels/`, { query: { page_size: 500 }, signal }).then(rowsOf),
  createChannel: (body: ChannelBody) => request<Channel>('POST', `${BASE}/channels/`, { body }),
  patchChannel: (id: number, body: ChannelBody) => request<Channel>('PATCH', `${BASE}/channels/${id}/`, { body }),
  deleteChannel: (id: number) => request<void>('DELETE', `${BASE}/channels/${id}/`),
  testChannel: (id: number) => request<TestResult>('POST', `${BASE}/channels/${id}/test/`),
  channelNotifications: (channel: number, signal?: AbortSignal) =>
    request<ListOf<Notification>>('GET', `${BASE}/notifications/`, { query: { channel, page_size: 50 }, signal }).then(rowsOf),
};
