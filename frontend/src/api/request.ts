/**
 * A small typed request helper for endpoints that are documented (docs/clusters-api.md) but not
 * yet in openapi.json, so openapi-fetch's `api` cannot type them. It goes through the same
 * `portalFetch` (CSRF, 401 handling) and throws the same `ApiError`. When an endpoint appears in
 * the generated schema, move its caller to `api` and drop its hand-written type.
 */
import { portalFetch } from './client';
import { toApiError } from './errors';

export type QueryValue = string | number | boolean | null | undefined;

export function buildUrl(path: string, query: Record<string, QueryValue> = {}): string {
  const base = typeof window === 'undefined' ? 'http://localhost' : window.location.origin;
  const url = new URL(path, base);
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    url.searchParams.set(key, String(value));
  }
  return url.toString();
}

type RequestOptions = { query?: Record<string, QueryValue>; body?: unknown; signal?: AbortSignal };

/** Send a JSON request through `portalFetch` and parse the answer (JSON, else text; 204 → undefined). */
export async function sendParsed(
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  { query, body, signal }: RequestOptions = {},
): Promise<{ response: Response; parsed: unknown }> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await portalFetch(
    new Request(buildUrl(path, query), {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    }),
  );
  let parsed: unknown = undefined;
  if (response.status !== 204) {
    const text = await response.text();
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
  }
  return { response, parsed };
}

export async function request<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const { response, parsed } = await sendParsed(method, path, options);
  if (!response.ok) throw toApiError(response, parsed);
  return parsed as T; // the caller names the documented shape of this endpoint
}
