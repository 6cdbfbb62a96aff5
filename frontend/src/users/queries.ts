/** Users administration (system admins): list with filters, create, edit, set password, unlock. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import { useKeysetList } from '../components/table/useKeysetList'; // not the index: MappingsPage imports ROLES from here
import type { ApiError } from '../api/errors';
import type { AdminUser, Role, UserCreateBody, UserPatchBody, UsersQuery } from '../api/types';

export const usersKey = ['users'] as const;
/** System roles, most to least: the auditor reads what operators read and changes nothing. */
export const ROLES: readonly Role[] = ['admin', 'operator', 'auditor', 'user'];

export interface UserFilters {
  q: string;
  role: Role | '';
  active: '' | 'true' | 'false';
}
export const EMPTY_USER_FILTERS: UserFilters = { q: '', role: '', active: '' };

export function usersQuery(filters: UserFilters, cursor: string | null): UsersQuery {
  const query: UsersQuery = {};
  if (filters.q.trim()) query.q = filters.q.trim();
  if (filters.role) query.role = filters.role;
  if (filters.active) query.is_active = filters.active === 'true';
  if (cursor) query.cursor = cursor;
  return query;
}

export function useUsers(filters: UserFilters, cursor: string | null) {
  const query = usersQuery(filters, cursor);
  return useQuery({
    queryKey: [...usersKey, query],
    queryFn: async () => unwrap(await api.GET('/api/users/', { params: { query } })),
    placeholderData: keepPreviousData,
  });
}

/** Orderings the API offers (`ordering`, prefix '-' for descending); the server's default is newest first. */
export const USER_ORDERINGS = ['id', 'username', 'role', 'is_active', 'date_joined', 'last_login'] as const;

export function parseOrdering(value: string | null): string | null {
  if (!value) return null;
  return (USER_ORDERINGS as readonly string[]).includes(value.replace(/^-/, '')) ? value : null;
}

/** Keyset pages of users for the table, sorted on the server. */
export function useUserList(filters: UserFilters, ordering: string | null) {
  const query = usersQuery(filters, null);
  return useKeysetList<AdminUser>({
    queryKey: [...usersKey, 'list', query, ordering],
    fetchPage: async (cursor) => {
      // `ordering` is checked by parseOrdering; the generated type names the same values.
      const params = { ...query, ...(ordering ? { ordering } : {}), ...(cursor ? { cursor } : {}) } as UsersQuery;
      const page = unwrap(await api.GET('/api/users/', { params: { query: params } }));
      return { results: page.results, next: page.next ?? null };
    },
  });
}

export function useCreateUser() {
  const queryClient = useQueryClient();
  return useMutation<AdminUser, ApiError, UserCreateBody>({
    mutationFn: async (body) => unwrap(await api.POST('/api/users/', { body })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: usersKey }),
  });
}

export function useUpdateUser() {
  const queryClient = useQueryClient();
  return useMutation<AdminUser, ApiError, { id: number; body: UserPatchBody }>({
    mutationFn: async ({ id, body }) => unwrap(await api.PATCH('/api/users/{id}/', { params: { path: { id } }, body })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: usersKey }),
  });
}

export function useSetPassword() {
  return useMutation<void, ApiError, { id: number; password: string }>({
    mutationFn: async ({ id, password }) => {
      unwrap(await api.POST('/api/users/{id}/set-password/', { params: { path: { id } }, body: { password } }));
    },
  });
}

/** Lift a login lockout (too many failed logins); answers the user, now with locked_until null. */
export function useUnlockUser() {
  const queryClient = useQueryClient();
  return useMutation<AdminUser, ApiError, number>({
    mutationFn: async (id) => unwrap(await api.POST('/api/users/{id}/unlock/', { params: { path: { id } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: usersKey }),
  });
}
