/**
 * Vite + Vitest configuration.
 *
 * Django serves the built SPA: dist/index.html for every non-API path and the
 * hashed assets under /static/, hence `base: '/static/'`. In development the
 * Vite dev server proxies the API, health and WebSocket paths to Django.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

const backend = process.env.PORTAL_BACKEND ?? 'http://127.0.0.1:8000';

export default defineConfig(({ command }) => ({
  // The dev server serves from "/" so client-side routes work as they do in
  // production; the build references its assets as /static/assets/...
  base: command === 'build' ? '/static/' : '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/readyz': { target: backend },
      '/healthz': { target: backend },
      '/ws': { target: backend, ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    css: false,
    restoreMocks: true,
  },
}));
