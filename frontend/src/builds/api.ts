/**
 * Calls to the builds API (/api/builds/, docs/builds.md) through `request` (CSRF, 401 handling,
 * `ApiError` with the body's code and field errors), typed by the hand-written types of types.ts
 * until the endpoints are in the generated schema.
 */
import { request } from '../api/request';
import type {
  BuildDefinition,
  BuildRun,
  BuildRunDetail,
  CreatedDefinition,
  DefinitionBody,
  ListOf,
  Page,
  Preset,
  Registry,
  RunQuery,
  StepLog,
} from './types';

const BASE = '/api/builds';
const seg = encodeURIComponent;

/** The rows of a list answer, paginated or not. */
export function rowsOf<T>(data: ListOf<T> | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.results;
}

export const buildsApi = {
  presets: (signal?: AbortSignal) => request<ListOf<Preset>>('GET', `${BASE}/presets/`, { signal }).then(rowsOf),
  registries: (signal?: AbortSignal) => request<ListOf<Registry>>('GET', `${BASE}/registries/`, { signal }).then(rowsOf),

  definitions: (query: { workspace?: number; q?: string }, signal?: AbortSignal) =>
    request<ListOf<BuildDefinition>>('GET', `${BASE}/definitions/`, { query: { page_size: 500, ...query }, signal }).then(rowsOf),
  definition: (id: number, signal?: AbortSignal) => request<BuildDefinition>('GET', `${BASE}/definitions/${id}/`, { signal }),
  createDefinition: (body: DefinitionBody) => request<CreatedDefinition>('POST', `${BASE}/definitions/`, { body }),
  patchDefinition: (id: number, body: DefinitionBody) => request<BuildDefinition>('PATCH', `${BASE}/definitions/${id}/`, { body }),
  deleteDefinition: (id: number) => request<void>('DELETE', `${BASE}/definitions/${id}/`),
  run: (id: number, ref?: string) => request<BuildRun>('POST', `${BASE}/definitions/${id}/run/`, { body: ref ? { ref } : {} }),
  rotateWebhookSecret: (id: number) => request<{ webhook_secret: string }>('POST', `${BASE}/definitions/${id}/webhook-secret/`),

  runs: (query: RunQuery, signal?: AbortSignal) =>
    request<Page<BuildRun>>('GET', `${BASE}/runs/`, { query: { page_size: 50, ...query }, signal }),
  runDetail: (id: number, signal?: AbortSignal) => request<BuildRunDetail>('GET', `${BASE}/runs/${id}/`, { signal }),
  stepLog: (id: number, step: string, offset: number, signal?: AbortSignal) =>
    request<StepLog>('GET', `${BASE}/runs/${id}/steps/${seg(step)}/log/`, { query: { offset }, signal }),
  cancel: (id: number) => request<BuildRun>('POST', `${BASE}/runs/${id}/cancel/`),
  rebuild: (id: number) => request<BuildRun>('POST', `${BASE}/runs/${id}/rebuild/`),
};
