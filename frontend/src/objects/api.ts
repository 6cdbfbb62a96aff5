/**
 * Calls to the object-action endpoints (/work/coord/OBJECTS.md). They are not in openapi.json
 * yet, so they go through one small typed sender over `portalFetch` (CSRF, 401 handling) instead
 * of openapi-fetch's `api`; move them to `api` once the schema is regenerated.
 *
 * The sender differs from api/request.ts in one way: a refusal's `errors` may hold objects
 * (`{"yaml": [{"line", "message"}]}` for unparsable YAML, field/line causes for an API server 422)
 * which ApiError's string-only `fieldErrors` drops, so they are kept on `ObjectApiError.lines`
 * for the editor to put on their lines.
 */
import { ApiError, toApiError } from '../api/errors';
import { sendParsed, type QueryValue } from '../api/request';
import type {
  CreatePreview,
  Dependents,
  LineError,
  ObjectAction,
  ObjectDetail,
  ObjectRef,
  Preview,
  Propagation,
  Revision,
} from './types';

/** An API refusal with the per-line errors its body carried. */
export class ObjectApiError extends ApiError {
  readonly lines: LineError[];

  constructor(base: ApiError, lines: LineError[]) {
    super({
      status: base.status,
      detail: base.detail,
      fieldErrors: base.fieldErrors,
      retryAfter: base.retryAfter,
      code: base.code,
      params: base.params,
    });
    this.name = 'ObjectApiError';
    this.lines = lines;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lineError(value: unknown, field?: string): LineError | null {
  if (typeof value === 'string') return { line: null, message: value, field };
  if (!isRecord(value) || typeof value.message !== 'string') return null;
  const line = typeof value.line === 'number' && Number.isFinite(value.line) ? value.line : null;
  const named = typeof value.field === 'string' ? value.field : field;
  return { line, message: value.message, ...(named ? { field: named } : {}) };
}

/** Every error of a refusal body that could point at a line: `errors` as a list, or per field. */
export function lineErrorsOf(body: unknown): LineError[] {
  if (!isRecord(body)) return [];
  const out: LineError[] = [];
  // The editor's line marks: `params.lines` ({line, message, field?}); `errors` then holds the same
  // messages as plain strings (the API's one error shape) and is not read twice.
  const params = body.params;
  if (isRecord(params) && Array.isArray(params.lines)) {
    for (const e of params.lines) {
      const found = lineError(e);
      if (found) out.push(found);
    }
    if (out.length > 0) return out;
  }
  const errors = body.errors;
  if (Array.isArray(errors)) {
    for (const e of errors) {
      const found = lineError(e);
      if (found) out.push(found);
    }
  } else if (isRecord(errors)) {
    for (const [field, list] of Object.entries(errors)) {
      for (const e of Array.isArray(list) ? list : [list]) {
        // The YAML's own errors are about the text, not a field of the object.
        const found = lineError(e, field === 'yaml' || field === 'non_field_errors' ? undefined : field);
        if (found) out.push(found);
      }
    }
  }
  return out;
}

async function send<T>(
  method: 'GET' | 'POST',
  path: string,
  options: { query?: Record<string, QueryValue>; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const { response, parsed } = await sendParsed(method, path, options);
  if (!response.ok) throw new ObjectApiError(toApiError(response, parsed), lineErrorsOf(parsed));
  return parsed as T; // the caller names the documented shape of the endpoint
}

const seg = encodeURIComponent;

/** /api/clusters/{id}/objects/{group}/{version}/{plural}/{name}/ */
export function objectBase(clusterId: number, ref: Pick<ObjectRef, 'group' | 'version' | 'plural' | 'name'>): string {
  return `/api/clusters/${clusterId}/objects/${seg(ref.group || 'core')}/${seg(ref.version)}/${seg(ref.plural)}/${seg(ref.name)}/`;
}

const nsQuery = (ref: Pick<ObjectRef, 'namespace'>) => ({ namespace: ref.namespace || undefined });

export const objectsApi = {
  get: (clusterId: number, ref: ObjectRef, signal?: AbortSignal) =>
    send<ObjectDetail>('GET', objectBase(clusterId, ref), { query: nsQuery(ref), signal }),
  preview: (clusterId: number, ref: ObjectRef, yaml: string) =>
    send<Preview>('POST', `${objectBase(clusterId, ref)}preview/`, { query: nsQuery(ref), body: { yaml } }),
  apply: (clusterId: number, ref: ObjectRef, yaml: string, force: boolean) =>
    send<ObjectAction>('POST', `${objectBase(clusterId, ref)}apply/`, { query: nsQuery(ref), body: { yaml, force } }),
  scale: (clusterId: number, ref: ObjectRef, replicas: number) =>
    send<ObjectAction>('POST', `${objectBase(clusterId, ref)}scale/`, { query: nsQuery(ref), body: { replicas } }),
  restart: (clusterId: number, ref: ObjectRef) =>
    send<ObjectAction>('POST', `${objectBase(clusterId, ref)}restart/`, { query: nsQuery(ref), body: {} }),
  pause: (clusterId: number, ref: ObjectRef) =>
    send<ObjectAction>('POST', `${objectBase(clusterId, ref)}pause/`, { query: nsQuery(ref), body: {} }),
  resume: (clusterId: number, ref: ObjectRef) =>
    send<ObjectAction>('POST', `${objectBase(clusterId, ref)}resume/`, { query: nsQuery(ref), body: {} }),
  rollback: (clusterId: number, ref: ObjectRef, revision: number) =>
    send<ObjectAction>('POST', `${objectBase(clusterId, ref)}rollback/`, { query: nsQuery(ref), body: { revision } }),
  remove: (clusterId: number, ref: ObjectRef, confirm: string, propagation: Propagation) =>
    send<ObjectAction>('POST', `${objectBase(clusterId, ref)}delete/`, { query: nsQuery(ref), body: { confirm, propagation } }),
  revisions: (clusterId: number, ref: ObjectRef, signal?: AbortSignal) =>
    send<{ revisions: Revision[] }>('GET', `${objectBase(clusterId, ref)}revisions/`, { query: nsQuery(ref), signal }),
  dependents: (clusterId: number, ref: ObjectRef, signal?: AbortSignal) =>
    send<Dependents>('GET', `${objectBase(clusterId, ref)}dependents/`, { query: nsQuery(ref), signal }),
  /** `namespace`: where documents without one go (the server's default: default). */
  previewMany: (clusterId: number, yaml: string, namespace?: string) =>
    send<CreatePreview>('POST', `/api/clusters/${clusterId}/objects/preview/`, { query: { namespace }, body: { yaml } }),
  create: (clusterId: number, yaml: string, force: boolean, namespace?: string) =>
    send<ObjectAction>('POST', `/api/clusters/${clusterId}/objects/create/`, { query: { namespace }, body: { yaml, force } }),
  action: (id: number, signal?: AbortSignal) => send<ObjectAction>('GET', `/api/clusters/actions/${id}/`, { signal }),
};
