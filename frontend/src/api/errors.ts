/**
 * One error type for every failed API call, built from the portal's error
 * body `{"detail": ..., "code": ..., "params": {...}, "errors": {field: [...]}}`,
 * so components can show the server's message (translated by `code` through
 * lib/messages.ts, `params` filling its placeholders) and put field errors
 * next to their inputs.
 */

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly fieldErrors: Record<string, string[]>;
  /** Seconds from a Retry-After header (429/503), when the server sent one. */
  readonly retryAfter: number | null;
  /** The body's stable `code` (for example `account_locked`), when it has one. */
  readonly code: string | null;
  /** The body's `params`: what the translation of `code` fills in (`{workspace, grant}` …). */
  readonly params: Record<string, unknown>;

  constructor(opts: {
    status: number;
    detail: string;
    fieldErrors?: Record<string, string[]>;
    retryAfter?: number | null;
    code?: string | null;
    params?: Record<string, unknown>;
  }) {
    super(opts.detail);
    this.name = 'ApiError';
    this.status = opts.status;
    this.detail = opts.detail;
    this.fieldErrors = opts.fieldErrors ?? {};
    this.retryAfter = opts.retryAfter ?? null;
    this.code = opts.code ?? null;
    this.params = opts.params ?? {};
  }

  /** Errors for one field, or for the whole form (`non_field_errors`). */
  forField(name: string): string[] {
    return this.fieldErrors[name] ?? [];
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return [value];
  return [];
}

export function parseRetryAfter(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(header);
  if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  return null;
}

/**
 * Builds an ApiError from a response and its already-parsed body (openapi-fetch
 * parses it for us; the body may be JSON, text, or missing).
 */
export function toApiError(response: Response, body: unknown): ApiError {
  let detail = '';
  let code: string | null = null;
  let params: Record<string, unknown> = {};
  const fieldErrors: Record<string, string[]> = {};
  if (isRecord(body)) {
    if (typeof body.detail === 'string') detail = body.detail;
    if (typeof body.code === 'string') code = body.code;
    if (isRecord(body.params)) params = body.params;
    if (isRecord(body.errors)) {
      for (const [field, messages] of Object.entries(body.errors)) {
        fieldErrors[field] = stringList(messages);
      }
    }
  } else if (typeof body === 'string' && body.length < 500 && !body.trimStart().startsWith('<')) {
    detail = body;
  }
  return new ApiError({
    status: response.status,
    detail: detail || response.statusText || `HTTP ${response.status}`,
    fieldErrors,
    retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
    code,
    params,
  });
}

/** Client errors are answers, not accidents: retrying them cannot help. */
export function isClientError(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500;
}
