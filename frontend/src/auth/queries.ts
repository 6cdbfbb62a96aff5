/**
 * Session state lives in the query cache under ['me']: a User when logged in,
 * null when not. Login, logout and any 401 write that entry.
 */
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { api, beginSessionEpoch, unwrap } from '../api/client';
import { resetCsrfToken } from '../api/csrf';
import { ApiError } from '../api/errors';
import type { User } from '../api/types';
import { getSocket } from '../lib/socket';

export const meKey = ['me'] as const;
/**
 * Set by an explicit logout: the guard then sends the visitor to a plain /login, without
 * ?next= (the next person to log in must not land on the previous user's page).
 */
export const loggedOutKey = ['logged-out'] as const;
/** Set when the server ended the session (401/4401), so the login page can say why. */
export const sessionExpiredKey = ['session-expired'] as const;

async function fetchMe(): Promise<User | null> {
  const result = await api.GET('/api/auth/me/');
  if (result.response.status === 401 || result.response.status === 403) return null;
  return unwrap(result);
}

export function useMe() {
  return useQuery({ queryKey: meKey, queryFn: fetchMe, staleTime: 60_000 });
}

/** Forget everything the previous session loaded, and mark it logged out. */
export function clearSession(queryClient: QueryClient, { expired = false } = {}): void {
  beginSessionEpoch();
  getSocket().stop();
  queryClient.removeQueries({ predicate: (q) => q.queryKey[0] !== meKey[0] && q.queryKey[0] !== loggedOutKey[0] });
  queryClient.setQueryData(meKey, null);
  if (expired) queryClient.setQueryData(sessionExpiredKey, true);
}

/** A login succeeded (local or LDAP): ['me'] is the new user, from a new session epoch. */
export function startSession(queryClient: QueryClient, user: User): void {
  beginSessionEpoch(); // a late 401 to the previous session's requests does not log this one out
  resetCsrfToken(); // Django rotates the token at login
  queryClient.removeQueries({ queryKey: sessionExpiredKey });
  queryClient.removeQueries({ queryKey: loggedOutKey });
  queryClient.setQueryData(meKey, user);
}

export interface Credentials {
  username: string;
  password: string;
}

export function useLogin() {
  const queryClient = useQueryClient();
  return useMutation<User, ApiError, Credentials>({
    mutationFn: async (body) => unwrap(await api.POST('/api/auth/login/', { body })),
    onSuccess: (user) => startSession(queryClient, user),
  });
}

export function useLogout() {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError>({
    mutationFn: async () => {
      // The server ends this session's sockets when the logout commits, which can reach the
      // browser before the logout's own answer: stop the socket first, so that 4401 is not taken
      // for an expired session (which would send the next login back to this page).
      getSocket().stop();
      const result = await api.POST('/api/auth/logout/');
      // Already logged out is fine for a logout.
      if (result.response.status !== 401) unwrap(result);
      // A session from single sign-on: 200 with the provider's end-session URL (RP-initiated
      // logout), where the browser goes to sign out at the provider too.
      const offer = (result.data as { end_session_url?: string } | undefined)?.end_session_url;
      if (offer && /^https?:\/\//.test(offer)) window.location.assign(offer);
    },
    onSettled: () => {
      resetCsrfToken();
      queryClient.setQueryData(loggedOutKey, true);
      clearSession(queryClient);
    },
  });
}
