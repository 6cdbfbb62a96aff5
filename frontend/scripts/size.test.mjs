/**
 * scripts/size.mjs against a build made up here: the real route table and translation sections,
 * files of known size (random bytes: gzip cannot shrink them), and budgets that pass or fail.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const routes = [...readFileSync(join(root, 'src/routeChunks.ts'), 'utf8').matchAll(/^export const \w+ = page\('([^']+)', \(\) => import\('\.\/([^']+)'\)/gm)].map(
  (m) => ({ path: m[1], module: `src/${m[2]}.tsx` }),
);
const sections = readFileSync(join(root, 'src/i18n/sections.ts'), 'utf8');
const core = [...(/CORE_SECTIONS = \[([^\]]*)\]/.exec(sections)?.[1] ?? '').matchAll(/'(\w+)'/g)].map((m) => m[1]);
const files = [...(/NAMESPACE_FILES = \{([^}]*)\}/.exec(sections)?.[1] ?? '').matchAll(/\w+: '(\w+)'/g)].map((m) => m[1]);

let dist;
function write(name, bytes) {
  const path = join(dist, 'assets', name);
  writeFileSync(path, randomBytes(bytes));
  return `assets/${name}`;
}

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'size-test-'));
  mkdirSync(join(dist, 'assets'));
  mkdirSync(join(dist, '.vite'));
  const manifest = {
    'index.html': { file: write('entry.js', 100_000), isEntry: true, imports: ['_shared.js'], dynamicImports: routes.map((r) => r.module) },
    '_shared.js': { file: write('shared.js', 20_000) },
  };
  routes.forEach((r, i) => {
    // The dashboard's chunk is big; every other page small.
    manifest[r.module] = { file: write(`page${i}.js`, r.path === '/' ? 60_000 : 1_000), isDynamicEntry: true, imports: ['_shared.js'] };
  });
  for (const lang of ['en', 'ko']) {
    for (const s of ['base', ...core]) manifest[`virtual:i18n/${lang}/${s}`] = { file: write(`i18n-${lang}-${s}.js`, s === 'codes' ? 9_000 : 500), isDynamicEntry: true };
    for (const f of files) manifest[`src/i18n/${f}.${lang}.json`] = { file: write(`i18n-${lang}-ns-${f}.js`, 500), isDynamicEntry: true };
  }
  writeFileSync(join(dist, '.vite', 'manifest.json'), JSON.stringify(manifest));
});

afterAll(() => rmSync(dist, { recursive: true, force: true }));

function run(budgets) {
  writeFileSync(join(dist, 'budgets.json'), JSON.stringify({ routes: budgets }));
  const out = join(dist, 'out.json');
  const result = spawnSync(process.execPath, ['scripts/size.mjs', '--dist', dist, '--budgets', join(dist, 'budgets.json'), '--out', out], { cwd: root, encoding: 'utf8' });
  return { ...result, report: JSON.parse(readFileSync(out, 'utf8')) };
}

const roomy = () => Object.fromEntries(routes.map((r) => [r.path, 200]));

describe('npm run size', () => {
  it('passes when every route is within its budget, and writes every route with its files', () => {
    const { status, stdout, report } = run(roomy());
    expect(status).toBe(0);
    expect(stdout).toContain('every route is within its budget');
    const login = report.routes.find((r) => r.route === '/login');
    // entry + shared + the login chunk + base and a11y strings, each counted once
    expect(login.js_gzip.en).toBeGreaterThan(121_000);
    expect(login.js_gzip.en).toBeLessThan(124_000);
    expect(login.files_language).toBe(login.js_gzip.ko >= login.js_gzip.en ? 'ko' : 'en');
    const lang = login.files_language;
    expect(login.files).toEqual(expect.arrayContaining(['assets/entry.js', 'assets/shared.js', `assets/i18n-${lang}-base.js`]));
    expect(login.files).not.toContain(`assets/i18n-${lang}-codes.js`);
    // once the page is up: the server-message strings, and Korean also reads the English ones
    expect(login.files_after_first_render).toEqual(lang === 'ko' ? ['assets/i18n-en-codes.js', 'assets/i18n-ko-codes.js'] : ['assets/i18n-en-codes.js']);
    expect(report.routes).toHaveLength(routes.length);
  });

  it('fails naming the route over its budget and by how much', () => {
    const { status, stderr } = run({ ...roomy(), '/': 150 });
    expect(status).toBe(1);
    expect(stderr).toMatch(/\/: 18\d\.\d kB of JavaScript \(gzip\) is over its budget of 150 kB by 3\d\.\d kB/);
    expect(stderr).not.toContain('/login:');
  });

  it('fails for a page without a budget', () => {
    const budgets = roomy();
    delete budgets['/admin/audit'];
    const { status, stderr } = run(budgets);
    expect(status).toBe(1);
    expect(stderr).toContain('/admin/audit: no budget');
  });
});
