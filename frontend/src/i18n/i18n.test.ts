import { describe, expect, it } from 'vitest';
import { en, ko } from './resources';
import { LANGUAGE_STORAGE_KEY, detectLanguage } from './index';
import { NAMESPACES, SECTIONS, loadSection, sectionOf } from './loaders';
import { CORE_SECTIONS } from './sections';

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') out.set(path, value);
    else for (const [k, v] of flatten(value, path)) out.set(k, v);
  }
  return out;
}

const placeholders = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();

describe('translations', () => {
  const enKeys = flatten(en);
  const koKeys = flatten(ko);

  it('ko and en have exactly the same keys', () => {
    expect([...koKeys.keys()].sort()).toEqual([...enKeys.keys()].sort());
  });

  it('no translation is empty', () => {
    for (const [key, value] of [...enKeys, ...koKeys]) expect(value.trim(), key).not.toBe('');
  });

  it('each key uses the same {{placeholders}} in both languages', () => {
    for (const [key, value] of enKeys) {
      expect(placeholders(koKeys.get(key) ?? ''), key).toEqual(placeholders(value));
    }
  });

  it('uses the product vocabulary in Korean', () => {
    expect(ko.nav).toMatchObject({
      dashboard: '대시보드',
      clusters: '클러스터',
      workspaces: '워크스페이스',
      servicemaps: '서비스맵',
      catalog: '카탈로그',
      builds: '빌드',
      monitoring: '모니터링',
      admin: '관리',
      audit: '감사 로그',
    });
    expect(ko.topbar.logout).toBe('로그아웃');
    expect(ko.topbar.apiTokens).toBe('API 토큰');
  });
});

describe('sections (what the console downloads)', () => {
  async function assemble(lang: 'en' | 'ko'): Promise<Tree> {
    const parts = await Promise.all(SECTIONS.map((s) => loadSection(lang, s)));
    const tree: Tree = {};
    for (const part of parts) {
      for (const [key, value] of Object.entries(part)) {
        expect(tree, `${lang}: ${key} comes from two sections`).not.toHaveProperty(key);
        tree[key] = value;
      }
    }
    return tree;
  }

  it('add up to the whole tree in both languages, each key once', async () => {
    expect(await assemble('en')).toEqual(en);
    expect(await assemble('ko')).toEqual(ko);
  });

  it('every namespace of resources.ts loads on its own', () => {
    const cut = new Set<string>([...CORE_SECTIONS, ...NAMESPACES]);
    for (const key of Object.keys(en)) if (!cut.has(key)) expect(sectionOf(`${key}.x`), key).toBe('base');
    for (const ns of NAMESPACES) expect(en, ns).toHaveProperty(ns);
    expect(sectionOf('codes.not_found')).toBe('codes');
    expect(sectionOf('builds.title')).toBe('builds');
  });
});

describe('detectLanguage', () => {
  it('prefers the stored choice', () => {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, 'ko');
    expect(detectLanguage()).toBe('ko');
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, 'en');
    expect(detectLanguage()).toBe('en');
  });

  it('falls back to Korean only for ko browsers', () => {
    const spy = vi.spyOn(navigator, 'language', 'get');
    spy.mockReturnValue('ko-KR');
    expect(detectLanguage()).toBe('ko');
    spy.mockReturnValue('en-GB');
    expect(detectLanguage()).toBe('en');
    spy.mockReturnValue('de');
    expect(detectLanguage()).toBe('en');
  });
});
