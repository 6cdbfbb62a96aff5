/**
 * The typed API client. Every call to the portal's REST API goes through
 * `api` (openapi-fetch over the generated schema) and `portalFetch`, which:
 *  - sends cookies same-origin and adds X-CSRFToken to unsafe requests,
 *  - retries once with a fresh CSRF token when Django rejects the token,
 *  - reports 401s so the app can send the user to the login page.
 */
import createClient from 'openapi-fetch';
import { getCsrfToken, refreshCsrfToken } from './csrf';
import { ApiError, toApiError } from './errors';
import type { paths } from './schema';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

type UnauthorizedHandler = (url: string) => void;
let onUnauthorized: UnauthorizedHandler = () => undefined;

/** The app installs this once; it marks the session as gone in the query cache. */
export function setUnauthorizedHandler(handler: UnauthorizedHandler): void {
  onUnauthorized = handler;
}

/**
 * Which session a request belongs to. A request still in flight when its user logged out can
 * answer 401 after the next user has logged in; that 401 is about the old session and must not
 * end the new one. Login and logout start a new epoch; a 401 is reported only for a request sent
 * in the current one.
 */
let sessionEpoch = 0;

export function beginSessionEpoch(): void {
  sessionEpoch += 1;
}

async function withCsrf(request: Request, token: string): Promise<Request> {
  const headers = new Headers(request.headers);
  headers.set('X-CSRFToken', token);
  return new Request(request, { headers });
}

async function isCsrfRejection(response: Response): Promise<boolean> {
  if (response.status !== 403) return false;
  try {
    const body: unknown = await response.clone().json();
    return (
      typeof body === 'object' &&
      body !== null &&
      'detail' in body &&
      typeof body.detail === 'string' &&
      body.detail.toLowerCase().includes('csrf')
    );
  } catch {
    return false;
  }
}

export async function portalFetch(input: Request): Promise<Response> {
  // Reads globalThis.fetch at call time so tests can stub it.
  const send = (req: Request) => globalThis.fetch(req);
  const epoch = sessionEpoch;
  let response: Response;
  if (SAFE_METHODS.has(input.method)) {
    response = await send(input);
  } else {
    const retryCopy = input.clone();
    response = await send(await withCsrf(input, await getCsrfToken()));
    if (await isCsrfRejection(response)) {
      response = await send(await withCsrf(retryCopy, await refreshCsrfToken()));
    }
  }
  if (response.status === 401 && epoch === sessionEpoch) onUnauthorized(input.url);
  return response;
}

export const api = createClient<paths>({
  baseUrl: typeof window === 'undefined' ? '' : window.location.origin,
  credentials: 'same-origin',
  headers: { Accept: 'application/json' },
  fetch: portalFetch,
});

/**
 * Turns an openapi-fetch result into data or a thrown ApiError, which is what
 * TanStack Query wants from a query or mutation function.
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (!result.response.ok) throw toApiError(result.response, result.error);
  // 204 responses have no body; openapi-fetch gives `{}` or undefined there.
  return result.data as T;
}

export { ApiError };
