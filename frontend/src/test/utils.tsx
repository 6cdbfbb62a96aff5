/** Test helpers: render with the real providers, and a tiny fetch router. */
import { render } from '@testing-library/react';
import type { QueryClient } from '@tanstack/react-query';
import type { ReactElement } from 'react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { vi } from 'vitest';
import type { User } from '../api/types';
import { meKey } from '../auth/queries';
import { createQueryClient } from '../lib/queryClient';
import { Providers } from '../Providers';

export const adminUser: User = {
  id: 1,
  username: 'admin',
  email: 'admin@example.com',
  first_name: '',
  last_name: '',
  role: 'admin',
  is_admin: true,
};

export function testQueryClient(me?: User | null): QueryClient {
  const client = createQueryClient();
  client.setDefaultOptions({
    queries: { ...client.getDefaultOptions().queries, retry: false, staleTime: Infinity },
  });
  if (me !== undefined) client.setQueryData(meKey, me);
  return client;
}

function LocationProbe() {
  const location = useLocation();
  return <div data-testid="location">{location.pathname + location.search}</div>;
}

export function renderAt(
  ui: ReactElement,
  { route = '/', path = '*', queryClient = testQueryClient() }: { route?: string; path?: string; queryClient?: QueryClient } = {},
) {
  const result = render(
    <Providers queryClient={queryClient}>
      <MemoryRouter initialEntries={[route]}>
        <Routes>
          <Route path={path} element={ui} />
          {path !== '/login' && <Route path="/login" element={<div data-testid="login-route" />} />}
          {path !== '*' && <Route path="*" element={<div data-testid="elsewhere" />} />}
        </Routes>
        <LocationProbe />
      </MemoryRouter>
    </Providers>,
  );
  return { ...result, queryClient };
}

export function json(body: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });
}

export type Handler = (request: Request) => Response | Promise<Response>;

/**
 * Replaces fetch with a router keyed by "METHOD /path/". Unknown requests fail
 * the test loudly. Returns the list of requests seen.
 */
export function mockFetch(handlers: Record<string, Handler>): Request[] {
  const seen: Request[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      seen.push(request.clone());
      const url = new URL(request.url);
      const handler = handlers[`${request.method} ${url.pathname}`];
      if (!handler) throw new Error(`unexpected request ${request.method} ${url.pathname}`);
      return handler(request);
    }),
  );
  return seen;
}
