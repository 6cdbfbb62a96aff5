/**
 * The TanStack Query client: the app's only store. Socket events patch it;
 * a 401 anywhere marks the session as gone by setting ['me'] to null.
 */
import { QueryClient } from '@tanstack/react-query';
import { isClientError } from '../api/errors';

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Never retry 4xx (401/403/404 are answers); retry other failures twice.
        retry: (failureCount, error) => !isClientError(error) && failureCount < 2,
        staleTime: 10_000,
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
}
