#!/usr/bin/env node
/**
 * `npm run size`: what each route of the console downloads first, gzipped, against its budget
 * (issue 20: the login page and the dashboard ≤ 150 kB of JavaScript each; every other route just
 * above its size when it was split, so growth shows up in review instead of in the field).
 *
 * Reads the build's manifest (`<dist>/.vite/manifest.json`, vite.config.ts `build.manifest`), the
 * route table (src/routeChunks.ts: path, module, translation sections) and the startup sections
 * (src/i18n/index.ts STARTUP). A route's initial JavaScript is the entry chunk and everything it
 * imports statically, the route's own chunk and its static imports, and the translation chunks
 * loaded before the page shows: the startup sections and the route's sections in the active
 * language (Korean also loads the English `codes`, see i18n/index.ts). Each file counts once,
 * gzipped at level 9. Both languages are measured; the budget applies to the larger. CSS is
 * reported beside it, not budgeted.
 *
 * Prints a table, writes bench/results/bundle_sizes.json, and exits 1 naming every route over its
 * budget (or a page missing from size-budgets.json). Options: --dist <dir> (default dist),
 * --budgets <file> (default size-budgets.json), --out <file> (default ../bench/results/bundle_sizes.json),
 * --markdown (print the table as Markdown, for docs/performance.md).
 * kB here are 1,000 bytes, as Vite prints them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { dist: 'dist', budgets: 'size-budgets.json', out: '../bench/results/bundle_sizes.json', markdown: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.split('=', 2);
    const value = () => inline ?? argv[++i];
    if (name === '--dist') opts.dist = value();
    else if (name === '--budgets') opts.budgets = value();
    else if (name === '--out') opts.out = value();
    else if (name === '--markdown') opts.markdown = true;
    else if (name === '--help' || name === '-h') {
      console.log('usage: node scripts/size.mjs [--dist dist] [--budgets size-budgets.json] [--out ../bench/results/bundle_sizes.json] [--markdown]');
      process.exit(0);
    } else fail(`unknown argument ${arg}`);
    if (opts[name.slice(2)] === undefined) fail(`${name} needs a value`);
  }
  return opts;
}

function fail(message) {
  console.error(`size: ${message}`);
  process.exit(2);
}

const read = (path) => readFileSync(resolve(root, path), 'utf8');

/** `export const x = page('/path', () => import('./dir/Module'), 'Export', ['a', 'b']);` */
function readRoutes() {
  const source = read('src/routeChunks.ts');
  const pattern = /^export const \w+ = page\(\s*'([^']+)',\s*\(\)\s*=>\s*import\('\.\/([^']+)'\),\s*'(\w+)',\s*\[([^\]]*)\]\s*\);$/gm;
  const routes = [];
  for (const m of source.matchAll(pattern)) {
    const sections = [...m[4].matchAll(/'([^']+)'/g)].map((s) => s[1]);
    routes.push({ path: m[1], module: m[2], sections });
  }
  const declared = (source.match(/^export const \w+ = page\(/gm) ?? []).length;
  if (routes.length !== declared) fail(`src/routeChunks.ts: read ${routes.length} of ${declared} page(...) lines; keep each in the documented one-line shape`);
  return routes;
}

function readI18n() {
  const index = read('src/i18n/index.ts');
  const startup = /const STARTUP[^=]*=\s*\[([^\]]*)\]/.exec(index);
  if (!startup) fail('src/i18n/index.ts: no STARTUP list');
  const sections = read('src/i18n/sections.ts');
  const block = /NAMESPACE_FILES = \{([^}]*)\}/.exec(sections);
  if (!block) fail('src/i18n/sections.ts: no NAMESPACE_FILES');
  const deferred = /const DEFERRED[^=]*=\s*\[([^\]]*)\]/.exec(index);
  if (!deferred) fail('src/i18n/index.ts: no DEFERRED list');
  return {
    startup: [...startup[1].matchAll(/'([^']+)'/g)].map((s) => s[1]),
    deferred: [...deferred[1].matchAll(/'([^']+)'/g)].map((s) => s[1]),
    namespaceFiles: Object.fromEntries([...block[1].matchAll(/(\w+):\s*'([\w-]+)'/g)].map((m) => [m[1], m[2]])),
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dist = resolve(root, opts.dist);
  const manifestPath = join(dist, '.vite', 'manifest.json');
  if (!existsSync(manifestPath)) fail(`${manifestPath} not found: build first (npx vite build --outDir ${opts.dist})`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const budgets = JSON.parse(read(opts.budgets));
  const routes = readRoutes();
  const i18n = readI18n();

  const gz = new Map();
  const gzipSize = (file) => {
    if (!gz.has(file)) gz.set(file, gzipSync(readFileSync(join(dist, file)), { level: 9 }).length);
    return gz.get(file);
  };
  const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry);
  if (!entryKey) fail('the manifest has no entry');

  /** The chunk of a manifest key and every chunk it imports statically. */
  function closure(key, js = new Set(), css = new Set()) {
    const chunk = manifest[key];
    if (!chunk) fail(`${key} is not in the manifest (was ${opts.dist} built from this tree?)`);
    if (js.has(chunk.file)) return { js, css };
    js.add(chunk.file);
    for (const c of chunk.css ?? []) css.add(c);
    for (const imp of chunk.imports ?? []) closure(imp, js, css);
    return { js, css };
  }
  const sectionKey = (lang, section) =>
    i18n.namespaceFiles[section] ? `src/i18n/${i18n.namespaceFiles[section]}.${lang}.json` : `virtual:i18n/${lang}/${section}`;

  const problems = [];
  // Every page App.tsx loads lazily must be a route here, so a new page cannot escape its budget.
  const routeModules = new Set(routes.map((r) => `src/${r.module}.tsx`));
  const lazyPages = new Set();
  for (const chunk of Object.values(manifest)) {
    for (const d of chunk.dynamicImports ?? []) if (/^src\/.*\.tsx$/.test(d) && manifest[d]?.isDynamicEntry) lazyPages.add(d);
  }
  for (const r of routeModules) if (!lazyPages.has(r)) problems.push(`${r}: in src/routeChunks.ts but not a lazy chunk of this build`);

  const rows = [];
  const langs = ['en', 'ko'];
  const pages = routes;
  for (const route of pages) {
    const row = { route: route.path, module: route.module ? `src/${route.module}.tsx` : `${entryKey} (entry)`, js: {}, css: 0, files: {}, deferred: {}, deferredFiles: {} };
    for (const lang of langs) {
      const { js, css } = closure(entryKey);
      if (route.module) closure(`src/${route.module}.tsx`, js, css);
      for (const s of new Set([...i18n.startup, ...route.sections])) closure(sectionKey(lang, s), js, css);
      row.js[lang] = [...js].reduce((n, f) => n + gzipSize(f), 0);
      row.css = [...css].reduce((n, f) => n + gzipSize(f), 0);
      row.files[lang] = [...js].sort();
      // Loaded once the page is up (i18n/index.ts loadDeferred): not in the budget, reported beside it.
      const later = closure(sectionKey('en', 'codes'));
      for (const s of i18n.deferred) closure(sectionKey(lang, s), later.js, later.css);
      const extra = [...later.js].filter((f) => !js.has(f));
      row.deferred[lang] = extra.reduce((n, f) => n + gzipSize(f), 0);
      row.deferredFiles[lang] = extra.sort();
    }
    row.worst = Math.max(...langs.map((l) => row.js[l]));
    const budget = budgets.routes?.[route.path];
    row.budget_kb = budget ?? null;
    if (budget === undefined) problems.push(`${route.path}: no budget in ${opts.budgets}`);
    else if (row.worst > budget * 1000) {
      problems.push(`${route.path}: ${kb(row.worst)} kB of JavaScript (gzip) is over its budget of ${budget} kB by ${kb(row.worst - budget * 1000)} kB`);
    }
    rows.push(row);
  }
  for (const path of Object.keys(budgets.routes ?? {})) {
    if (!pages.some((p) => p.path === path)) problems.push(`${opts.budgets}: ${path} is not a route of src/routeChunks.ts`);
  }

  printTable(rows, opts.markdown);
  const out = resolve(root, opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        generated_at: new Date().toISOString(),
        dist: opts.dist,
        unit: 'bytes, gzip level 9',
        measure:
          'js_gzip (budgeted): JavaScript loaded before the route shows: entry + static imports, the route chunk + static imports, startup and route translation sections in that language. js_gzip_after_first_render: the server-message translations loaded once the page is up.',
        routes: rows.map((r) => ({
          route: r.route,
          module: r.module,
          js_gzip: r.js,
          js_gzip_after_first_render: r.deferred,
          css_gzip: r.css,
          budget_kb: r.budget_kb,
          within_budget: r.budget_kb === null ? null : r.worst <= r.budget_kb * 1000,
          // The files of the larger language (the one the budget applies to), to keep the report short.
          files_language: worstLanguage(r),
          files: r.files[worstLanguage(r)],
          files_after_first_render: r.deferredFiles[worstLanguage(r)],
        })),
        problems,
      },
      null,
      2,
    ) + '\n',
  );
  if (problems.length) {
    console.error(`\nsize: ${problems.length} problem(s):`);
    for (const p of problems) console.error(`  - ${p}`);
    process.exit(1);
  }
  console.log(`\nsize: every route is within its budget (${rows.length} routes; ${out})`);
}

const kb = (bytes) => (bytes / 1000).toFixed(1);
const worstLanguage = (row) => (row.js.ko >= row.js.en ? 'ko' : 'en');

function printTable(rows, markdown) {
  const head = ['route', 'JS en (kB)', 'JS ko (kB)', 'then en / ko (kB)', 'CSS (kB)', 'budget (kB)', ''];
  const body = rows.map((r) => [
    r.route,
    kb(r.js.en),
    kb(r.js.ko),
    `+${kb(r.deferred.en)} / +${kb(r.deferred.ko)}`,
    kb(r.css),
    r.budget_kb === null ? '—' : String(r.budget_kb),
    r.budget_kb === null ? '?' : r.worst <= r.budget_kb * 1000 ? '✔' : '✘',
  ]);
  if (markdown) {
    console.log(`| ${head.join(' | ')} |`);
    console.log(`| ${head.map((_, i) => (i > 0 && i < 6 ? '---:' : '---')).join(' | ')} |`);
    for (const line of body) console.log(`| ${line.map((c, i) => (i === 0 ? `\`${c}\`` : c)).join(' | ')} |`);
    return;
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(fmt(head));
  for (const line of body) console.log(fmt(line));
}

main();
