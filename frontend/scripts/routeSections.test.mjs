/**
 * The translation sections each page declares in src/routeChunks.ts cover what its code looks up, and
 * the entry (App, the Shell, the guards) needs only the startup ones. Read from the source: every
 * module a page imports statically (type-only imports aside), and in it every string that starts
 * with a section's name and a dot (`'catalog.title'`, `` `clusters.status.${s}` ``). A section a
 * page misses would still load when its first key is missed, but the page would show the key for
 * a moment.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { CORE_SECTIONS, NAMESPACE_FILES } from '../src/i18n/sections';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
// Loaded before any page shows (i18n/index.ts STARTUP) or once it is up (DEFERRED).
const ALWAYS = new Set(['a11y', 'codes']);
const SECTIONS = new Set([...CORE_SECTIONS, ...Object.keys(NAMESPACE_FILES)]);

function resolveImport(from, spec) {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

const parsed = new Map();
function parse(file) {
  let info = parsed.get(file);
  if (!info) {
    const code = readFileSync(file, 'utf8');
    const sections = new Set();
    for (const m of code.matchAll(/[`'"]([a-zA-Z0-9]+)\.[a-zA-Z$]/g)) if (m[1] && SECTIONS.has(m[1])) sections.add(m[1]);
    const imports = [];
    for (const m of code.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'";]*?from\s+['"]([^'"]+)['"]/gm)) {
      const target = m[1] ? resolveImport(file, m[1]) : null;
      if (target && !target.includes(`${join(src, 'i18n')}`)) imports.push(target);
    }
    info = { sections, imports };
    parsed.set(file, info);
  }
  return info;
}

/** Sections used by `file` and everything it imports statically, with the module that uses each. */
function used(file) {
  const seen = new Set();
  const out = new Map();
  const visit = (f) => {
    if (seen.has(f)) return;
    seen.add(f);
    const info = parse(f);
    for (const s of info.sections) if (!out.has(s)) out.set(s, relative(src, f));
    info.imports.forEach(visit);
  };
  visit(file);
  return out;
}

const pages = [...readFileSync(join(src, 'routeChunks.ts'), 'utf8').matchAll(
  /^export const \w+ = page\('([^']+)', \(\) => import\('\.\/([^']+)'\), '\w+', \[([^\]]*)\]\);$/gm,
)].map((m) => ({ path: m[1] ?? '', module: join(src, `${m[2]}.tsx`), declared: new Set([...(m[3] ?? '').matchAll(/'(\w+)'/g)].map((s) => s[1])) }));

describe('route translation sections', () => {
  it('reads every page of routeChunks.ts', () => {
    expect(pages.length).toBeGreaterThan(30);
    for (const p of pages) expect(existsSync(p.module), p.module).toBe(true);
  });

  it.each(pages.map((p) => [p.path, p]))('%s declares the sections its code looks up', (_path, page) => {
    const missing = [...used(page.module)].filter(([s]) => !ALWAYS.has(s) && !page.declared.has(s));
    expect(missing.map(([s, where]) => `${s} (${where})`), 'add these to its line in routeChunks.ts').toEqual([]);
    for (const s of page.declared) expect(SECTIONS.has(s), `${s} is not a section`).toBe(true);
  });

  it('the entry (App, the Shell, the guards) needs only the startup sections', () => {
    const missing = [...used(join(src, 'main.tsx'))].filter(([s]) => !ALWAYS.has(s));
    expect(missing.map(([s, where]) => `${s} (${where})`), 'move the key to the core words or add the section to STARTUP').toEqual([]);
  });
});
