import { QueryClientProvider } from '@tanstack/react-query';
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adminUser, json, mockFetch, testQueryClient } from '../test/utils';
import { useLogout } from './queries';

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
});
