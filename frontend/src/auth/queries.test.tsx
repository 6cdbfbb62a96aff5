import { QueryClientProvider } from '@tanstack/react-query';
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api/client';
import type { User } from '../api/types';
import { Providers } from '../Providers';
import { adminUser, json, mockFetch, testQueryClient } from '../test/utils';
import { setSocket, type SocketClient } from '../lib/socket';
import { meKey, useLogin, useLogout } from './queries';

describe('useLogout', () => {
  const original = window.location;

  afterEach(() => {
    Object.defineProperty(window, 'location', { value: original, configurable: true, writable: true });
  });

  function setup(): { assign: ReturnType<typeof vi.fn> } {
    const assign = vi.fn();
    Object.defineProperty(window, 'location', {
      value: { ...original, assign }, configurable: true, writable: true,
    });
    return { assign };
  }

  function wrapper({ children }: { children: ReactNode }) {
    return <QueryClientProvider client={testQueryClient(adminUser)}>{children}</QueryClientProvider>;
  }

  it("sends the browser to the identity provider's sign-out when the session came from single sign-on", async () => {
    const { assign } = setup();
    mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'c' }),
      'POST /api/auth/logout/': () => json({ end_session_url: 'https://idp.example/session/end?client_id=portal' }),
    });
    const { result } = renderHook(() => useLogout(), { wrapper });
    await act(async () => { await result.current.mutateAsync(); });
    await waitFor(() => expect(assign).toHaveBeenCalledWith('https://idp.example/session/end?client_id=portal'));
  });

  it('stays in the console after a local session (204)', async () => {
    const { assign } = setup();
    mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'c' }),
      'POST /api/auth/logout/': () => new Response(null, { status: 204 }),
    });
    const { result } = renderHook(() => useLogout(), { wrapper });
    await act(async () => { await result.current.mutateAsync(); });
    expect(assign).not.toHaveBeenCalled();
  });

  it('stops the socket before asking the server to log out', async () => {
    // The server closes the session's sockets (4401) when the logout commits, possibly before the
    // logout's answer arrives: a socket still running would take that for an expired session.
    setup();
    const stop = vi.fn();
    setSocket({ stop } as unknown as SocketClient);
    let stoppedBeforePost = false;
    mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'c' }),
      'POST /api/auth/logout/': () => {
        stoppedBeforePost = stop.mock.calls.length > 0;
        return new Response(null, { status: 204 });
      },
    });
    const { result } = renderHook(() => useLogout(), { wrapper });
    await act(async () => { await result.current.mutateAsync(); });
    expect(stoppedBeforePost).toBe(true);
    setSocket(null);
  });
});

describe('a 401 from the previous session', () => {
  const kim: User = { ...adminUser, id: 2, username: 'kim', role: 'user', is_admin: false };

  it('does not log out the user who logged in while it was in flight', async () => {
    const queryClient = testQueryClient(adminUser);
    let answerLate: (r: Response) => void = () => undefined;
    mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 'c' }),
      // Sent in the admin's session; it answers only after the logout and the next login.
      'GET /api/users/': () => new Promise<Response>((resolve) => { answerLate = resolve; }),
      'POST /api/auth/logout/': () => new Response(null, { status: 204 }),
      'POST /api/auth/login/': () => json(kim),
    });
    function wrapper({ children }: { children: ReactNode }) {
      return <Providers queryClient={queryClient}>{children}</Providers>;
    }
    const { result } = renderHook(() => ({ login: useLogin(), logout: useLogout() }), { wrapper });
    const late = api.GET('/api/users/');
    await act(async () => { await result.current.logout.mutateAsync(); });
    await act(async () => { await result.current.login.mutateAsync({ username: 'kim', password: 'pw' }); });
    expect(queryClient.getQueryData(meKey)).toEqual(kim);
    answerLate(json({ detail: 'Authentication credentials were not provided.' }, { status: 401 }));
    await act(async () => { await late; });
    expect(queryClient.getQueryData(meKey)).toEqual(kim);
  });

  it("still ends the current session when one of its own requests is refused", async () => {
    const queryClient = testQueryClient(kim);
    mockFetch({ 'GET /api/users/': () => json({ detail: 'expired' }, { status: 401 }) });
    function wrapper({ children }: { children: ReactNode }) {
      return <Providers queryClient={queryClient}>{children}</Providers>;
    }
    renderHook(() => null, { wrapper });
    await act(async () => { await api.GET('/api/users/'); });
    expect(queryClient.getQueryData(meKey)).toBeNull();
  });
});
