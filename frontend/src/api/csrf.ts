/**
 * CSRF token handling for Django's session auth. The `csrftoken` cookie is the
 * source of truth (Django rotates it at login); the token returned by
 * GET /api/auth/csrf/ is kept as a fallback for when the cookie is HttpOnly.
 */

let cachedToken: string | null = null;
let pending: Promise<string> | null = null;

export function readCsrfCookie(): string | null {
  if (typeof document === 'undefined') return null;
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'csrftoken') return decodeURIComponent(rest.join('='));
  }
  return null;
}

async function fetchToken(): Promise<string> {
  const response = await globalThis.fetch(new URL('/api/auth/csrf/', window.location.origin), {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (!response.ok) throw new Error(`CSRF token request failed: HTTP ${response.status}`);
  const body: unknown = await response.json();
  const token =
    typeof body === 'object' && body !== null && 'csrfToken' in body && typeof body.csrfToken === 'string'
      ? body.csrfToken
      : null;
  cachedToken = readCsrfCookie() ?? token;
  if (!cachedToken) throw new Error('CSRF token missing from response');
  return cachedToken;
}

/** Returns a CSRF token, asking the server for one when we have none. */
export async function getCsrfToken(): Promise<string> {
  const fromCookie = readCsrfCookie();
  if (fromCookie) return fromCookie;
  if (cachedToken) return cachedToken;
  pending ??= fetchToken().finally(() => {
    pending = null;
  });
  return pending;
}

/** Forget the token (after login/logout, or when the server rejected it). */
export function resetCsrfToken(): void {
  cachedToken = null;
}

/** Always ask the server for a fresh token (used once after a CSRF rejection). */
export async function refreshCsrfToken(): Promise<string> {
  cachedToken = null;
  pending ??= fetchToken().finally(() => {
    pending = null;
  });
  return pending;
}
