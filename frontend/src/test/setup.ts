import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach, vi } from 'vitest';
import { SocketClient, notifySocketUnauthorized, setSocket } from '../lib/socket';
import { FakeWebSocket } from './FakeWebSocket';
import '../i18n';
import { resetCsrfToken } from '../api/csrf';

beforeEach(() => {
  // No real sockets in unit tests: the shared client gets a fake transport.
  FakeWebSocket.reset();
  setSocket(
    new SocketClient({
      url: 'ws://localhost/ws/',
      createSocket: (url) => new FakeWebSocket(url),
      onUnauthorized: notifySocketUnauthorized,
    }),
  );
});

afterEach(() => {
  cleanup();
  setSocket(null);
  resetCsrfToken();
  vi.unstubAllGlobals();
  window.localStorage.clear();
  document.cookie.split(';').forEach((c) => {
    const name = c.split('=')[0]?.trim();
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
  });
});
