/**
 * Query keys and hooks of the sign-in pages:
 *   ['auth-providers']                       enabled providers for the login page (public)
 *   ['identity', 'providers']                admin list
 *   ['identity', 'mappings', provider]       a provider's group mappings
 *   ['identity', 'preview', provider]        who would get which roles
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiError } from '../api/errors';
import type { User } from '../api/types';
import { startSession } from '../auth/queries';
import { identityApi } from './api';
import type {
  ConnectionTest,
  GroupMapping,
  IdentityProvider,
  LinkResult,
  MappingBody,
  MappingRule,
  ProviderBody,
  UnlinkResult,
} from './types';

export const loginProvidersKey = ['auth-providers'] as const;
export const identityKey = ['identity'] as const;
export const providersKey = [...identityKey, 'providers'] as const;
export const mappingsKey = (provider: number) => [...identityKey, 'mappings', provider] as const;
export const previewKey = (provider: number) => [...identityKey, 'preview', provider] as const;

export function useLoginProviders() {
  return useQuery({ queryKey: loginProvidersKey, queryFn: ({ signal }) => identityApi.loginProviders(signal), staleTime: 60_000 });
}

/** Signs in through an LDAP provider; on success the session is the same as a local login's. */
export function useLdapLogin() {
  const queryClient = useQueryClient();
  return useMutation<User, ApiError, { provider: string; username: string; password: string }>({
    mutationFn: ({ provider, ...body }) => identityApi.ldapLogin(provider, body),
    onSuccess: (user) => startSession(queryClient, user),
  });
}

export function useProviders() {
  return useQuery({ queryKey: providersKey, queryFn: ({ signal }) => identityApi.providers(signal) });
}

function useInvalidate() {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: identityKey });
    void queryClient.invalidateQueries({ queryKey: loginProvidersKey });
  };
}

export function useSaveProvider() {
  const invalidate = useInvalidate();
  return useMutation<IdentityProvider, ApiError, { id: number | null; body: ProviderBody }>({
    mutationFn: ({ id, body }) => (id === null ? identityApi.createProvider(body) : identityApi.updateProvider(id, body)),
    onSuccess: invalidate,
  });
}

export function useDeleteProvider() {
  const invalidate = useInvalidate();
  return useMutation<void, ApiError, number>({ mutationFn: (id) => identityApi.deleteProvider(id), onSuccess: invalidate });
}

export function useTestProvider() {
  return useMutation<ConnectionTest, ApiError, number>({ mutationFn: (id) => identityApi.testProvider(id) });
}

export function useMappings(provider: number) {
  return useQuery({ queryKey: mappingsKey(provider), queryFn: ({ signal }) => identityApi.mappings(provider, signal) });
}

/** The stored mappings' preview, or with `proposed` the preview of those rules instead. */
export function usePreview(provider: number, proposed: MappingRule[] | null = null) {
  return useQuery({
    queryKey: proposed ? [...previewKey(provider), 'proposed', proposed] : previewKey(provider),
    queryFn: ({ signal }) => identityApi.preview(provider, proposed ?? undefined, signal),
  });
}

export function useCreateMapping() {
  const invalidate = useInvalidate();
  return useMutation<GroupMapping, ApiError, MappingBody>({ mutationFn: (body) => identityApi.createMapping(body), onSuccess: invalidate });
}

export function useDeleteMapping() {
  const invalidate = useInvalidate();
  return useMutation<void, ApiError, number>({ mutationFn: (id) => identityApi.deleteMapping(id), onSuccess: invalidate });
}


export function useProvider(id: number) {
  return useQuery({ queryKey: [...providersKey, id], queryFn: ({ signal }) => identityApi.provider(id, signal) });
}

/** Users matching `q` for the link picker (nothing is asked until something is typed). */
export function useUserSearch(q: string) {
  const term = q.trim();
  return useQuery({
    queryKey: ['users', 'pick', term],
    queryFn: ({ signal }) => identityApi.searchUsers(term, signal),
    enabled: term.length > 0,
  });
}

/** Moves an identity to another user; both users' details (and the users list) are refetched. */
export function useLinkIdentity() {
  const queryClient = useQueryClient();
  return useMutation<LinkResult, ApiError, { id: number; user: number }>({
    mutationFn: ({ id, user }) => identityApi.linkIdentity(id, user),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ['users'] }),
  });
}

export function useUnlinkIdentity() {
  const queryClient = useQueryClient();
  return useMutation<UnlinkResult, ApiError, number>({
    mutationFn: (id) => identityApi.unlinkIdentity(id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ['users'] }),
  });
}
