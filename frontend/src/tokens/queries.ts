/**
 * API token queries. The full token returned at creation is handed to the
 * caller once and never written to the query cache.
 */
import { useMutation, useQuery, useQueryClient, keepPreviousData } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import type { ApiError } from '../api/errors';
import type { ApiTokenCreateBody, ApiTokenCreated } from '../api/types';

export const tokensKey = ['tokens'] as const;

export function useTokens(cursor: string | null) {
  return useQuery({
    queryKey: [...tokensKey, { cursor }],
    queryFn: async () =>
      unwrap(await api.GET('/api/auth/tokens/', { params: { query: cursor ? { cursor } : {} } })),
    placeholderData: keepPreviousData,
  });
}

export function useCreateToken() {
  const queryClient = useQueryClient();
  return useMutation<ApiTokenCreated, ApiError, ApiTokenCreateBody>({
    mutationFn: async (body) => unwrap(await api.POST('/api/auth/tokens/', { body })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: tokensKey }),
  });
}

export function useRevokeToken() {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, number>({
    mutationFn: async (id) => {
      unwrap(await api.DELETE('/api/auth/tokens/{id}/', { params: { path: { id } } }));
    },
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: tokensKey }),
  });
}
