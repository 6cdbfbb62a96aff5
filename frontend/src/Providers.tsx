/**
 * App-wide providers and the glue between the API client, the socket and the
 * query cache: a 401 from either sets ['me'] to null, which makes RequireAuth
 * redirect to the login page.
 */
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { useEffect, type ReactNode } from 'react';
import { I18nextProvider } from 'react-i18next';
import { setUnauthorizedHandler } from './api/client';
import { clearSession, meKey } from './auth/queries';
import i18n from './i18n';
import { setSocketUnauthorizedHandler } from './lib/socket';

export function Providers({ queryClient, children }: { queryClient: QueryClient; children: ReactNode }) {
  useEffect(() => {
    const onUnauthorized = () => {
      // Only act if we believed we were logged in; a failed login is not a logout.
      if (queryClient.getQueryData(meKey)) clearSession(queryClient, { expired: true });
    };
    setUnauthorizedHandler(onUnauthorized);
    setSocketUnauthorizedHandler(onUnauthorized);
    return () => {
      setUnauthorizedHandler(() => undefined);
      setSocketUnauthorizedHandler(() => undefined);
    };
  }, [queryClient]);
  return (
    <I18nextProvider i18n={i18n}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </I18nextProvider>
  );
}
