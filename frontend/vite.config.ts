/**
 * Vite + Vitest configuration.
 *
 * Django serves the built SPA: dist/index.html for every non-API path and the
 * hashed assets under /static/, hence `base: '/static/'`. In development the
 * Vite dev server proxies the API, health and WebSocket paths to Django.
 *
 * Code splitting (issue 20): every page is its own chunk (App.tsx), and the translations load
 * per language and per section (the `i18nSections` plugin below, src/i18n/sections.ts). The
 * build writes `dist/.vite/manifest.json`, from which `npm run size` (scripts/size.mjs) adds up
 * what each route loads and checks it against size-budgets.json.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import { CORE_SECTIONS, LANGUAGES } from './src/i18n/sections.js';

const backend = process.env.PORTAL_BACKEND ?? 'http://127.0.0.1:8000';

const VIRTUAL = 'virtual:i18n/';
const RESOLVED = '\0' + VIRTUAL;

/**
 * Cuts src/i18n/<lang>.json into one module per CORE_SECTIONS key (`virtual:i18n/<lang>/<key>`)
 * and `virtual:i18n/<lang>/base` (every other key), so each becomes its own small chunk instead
 * of both languages' 230 KB riding in the entry. `virtual:i18n/core` exports the loaders:
 * `core[lang][section]()`.
 */
function i18nSections(): Plugin {
  const split = new Set<string>(CORE_SECTIONS);
  const file = (lang: string) => fileURLToPath(new URL(`./src/i18n/${lang}.json`, import.meta.url));
  return {
    name: 'portal-i18n-sections',
    resolveId(id) {
      return id.startsWith(VIRTUAL) ? '\0' + id : null;
    },
    load(id) {
      if (!id.startsWith(RESOLVED)) return null;
      const rest = id.slice(RESOLVED.length);
      if (rest === 'core') {
        const table = LANGUAGES.map((lang) => {
          const entries = ['base', ...CORE_SECTIONS].map((s) => `${JSON.stringify(s)}: () => import(${JSON.stringify(`${VIRTUAL}${lang}/${s}`)})`);
          return `${lang}: {${entries.join(', ')}}`;
        });
        return `export const core = {${table.join(', ')}};`;
      }
      const [lang, section] = rest.split('/');
      if (!lang || !section || !(LANGUAGES as readonly string[]).includes(lang)) {
        this.error(`unknown translation module ${id.slice(1)}`);
      }
      const path = file(lang);
      this.addWatchFile(path);
      const tree = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      let picked: unknown;
      if (section === 'base') picked = Object.fromEntries(Object.entries(tree).filter(([k]) => !split.has(k)));
      else if (split.has(section)) picked = tree[section] ?? {};
      else this.error(`${section} is not a section of ${lang}.json (src/i18n/sections.ts)`);
      // JSON.parse of a string literal: faster to start than the same object as a literal.
      return `export default JSON.parse(${JSON.stringify(JSON.stringify(picked))});`;
    },
  };
}

export default defineConfig(({ command }) => ({
  // The dev server serves from "/" so client-side routes work as they do in
  // production; the build references its assets as /static/assets/...
  base: command === 'build' ? '/static/' : '/',
  plugins: [react(), i18nSections()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // dist/.vite/manifest.json: which chunks each page loads, for scripts/size.mjs.
    manifest: true,
    rolldownOptions: {
      output: {
        // Readable names for the translation chunks (i18n-ko-codes-<hash>.js) in the size report.
        chunkFileNames: (chunk) => {
          const id = chunk.facadeModuleId ?? '';
          if (id.startsWith(RESOLVED)) return `assets/i18n-${id.slice(RESOLVED.length).replace('/', '-')}-[hash].js`;
          const ns = /\/src\/i18n\/([a-z0-9]+)\.(en|ko)\.json$/.exec(id);
          if (ns) return `assets/i18n-${ns[2]}-${ns[1]}-[hash].js`;
          return 'assets/[name]-[hash].js';
        },
      },
    },
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
