/** Calls of the single sign-on API (docs/sso.md); lists may come paginated or as arrays. */
import { request } from '../api/request';
import type { User } from '../api/types';
import type {
  ConnectionTest,
  GroupMapping,
  IdentityProvider,
  LinkResult,
  LoginProvider,
  MappingBody,
  MappingPreviewAnswer,
  MappingRule,
  PickedUser,
  PreviewUser,
  ProviderBody,
  UnlinkResult,
} from './types';

type Rows<T> = T[] | { results: T[] };

export function rows<T>(data: Rows<T> | undefined | null): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.results;
}

export const identityApi = {
  loginProviders: async (signal?: AbortSignal) => rows(await request<Rows<LoginProvider>>('GET', '/api/auth/providers/', { signal })),
  ldapLogin: (name: string, body: { username: string; password: string }) =>
    request<User>('POST', `/api/auth/ldap/${encodeURIComponent(name)}/login/`, { body }),

  providers: async (signal?: AbortSignal) => rows(await request<Rows<IdentityProvider>>('GET', '/api/identity/providers/', { signal })),
  provider: (id: number, signal?: AbortSignal) => request<IdentityProvider>('GET', `/api/identity/providers/${id}/`, { signal }),
  createProvider: (body: ProviderBody) => request<IdentityProvider>('POST', '/api/identity/providers/', { body }),
  updateProvider: (id: number, body: ProviderBody) => request<IdentityProvider>('PATCH', `/api/identity/providers/${id}/`, { body }),
  deleteProvider: (id: number) => request<void>('DELETE', `/api/identity/providers/${id}/`),
  testProvider: (id: number) => request<ConnectionTest>('POST', `/api/identity/providers/${id}/test/`),

  mappings: async (provider: number, signal?: AbortSignal) =>
    rows(await request<Rows<GroupMapping>>('GET', '/api/identity/mappings/', { query: { provider }, signal })),
  createMapping: (body: MappingBody) => request<GroupMapping>('POST', '/api/identity/mappings/', { body }),
  deleteMapping: (id: number) => request<void>('DELETE', `/api/identity/mappings/${id}/`),
  /** With `mappings`, the preview of those rules instead of the stored ones (nothing is saved). */
  preview: async (provider: number, mappings?: MappingRule[], signal?: AbortSignal): Promise<PreviewUser[]> => {
    const body = mappings ? { provider, mappings } : { provider };
    const answer = await request<MappingPreviewAnswer>('POST', '/api/identity/mappings/preview/', { body, signal });
    if (Array.isArray(answer)) return answer;
    return 'users' in answer ? answer.users : answer.results;
  },

  /** Users whose name matches `q`, for the "move to another user" picker. */
  searchUsers: async (q: string, signal?: AbortSignal) =>
    rows(await request<Rows<PickedUser>>('GET', '/api/users/', { query: { q }, signal })),
  linkIdentity: (id: number, user: number) => request<LinkResult>('POST', `/api/identity/identities/${id}/link/`, { body: { user } }),
  unlinkIdentity: (id: number) => request<UnlinkResult>('POST', `/api/identity/identities/${id}/unlink/`),
};
