/**
 * i18next setup. Korean and English resources must have the same keys (i18n.test.ts checks). The
 * choice is stored in localStorage; without one, a browser whose language starts with "ko" gets
 * Korean and everyone else English.
 *
 * Only the active language's strings are downloaded, in sections (sections.ts, loaders.ts):
 * importing this module waits (top-level await) for STARTUP — `base` (the shell, login and
 * dashboard words) and `a11y` — so nothing renders before its words are there. A page's own
 * sections (`catalog`, `builds`, …) load with its chunk (`loadSections`, called by the route loaders
 * in routeChunks.ts). DEFERRED — `codes`, the server messages (23 kB gzip for Korean, which also
 * needs the English ones: lib/messages.ts compares the server's English sentence with the English
 * template) — loads once the first page is up (`loadDeferred`, main.tsx); until then a server
 * message shows in the server's English, as for an unknown code. Switching the language loads the
 * same sections in the other language before switching. A key whose section nobody asked for loads
 * it when first missed and the page re-renders (a safety net, warned about in development). Tests
 * load everything up front.
 */
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { SECTIONS, loadSection, sectionOf } from './loaders';
import { LANGUAGES, type Language, type Section } from './sections';

export { LANGUAGES, type Language } from './sections';
export type { Section } from './sections';
export const LANGUAGE_STORAGE_KEY = 'portal.language';

/** What every page needs before the first render. */
const STARTUP: readonly Section[] = ['base', 'a11y'];
/** Loaded after the first render (scripts/size.mjs reports both lists). */
const DEFERRED: readonly Section[] = ['codes'];

function isLanguage(value: string | null | undefined): value is Language {
  return value === 'ko' || value === 'en';
}

export function detectLanguage(): Language {
  try {
    const stored = window.localStorage.getItem(LANGUAGE_STORAGE_KEY);
    if (isLanguage(stored)) return stored;
  } catch {
    // Storage may be disabled; fall back to the browser language.
  }
  const browser = typeof navigator === 'undefined' ? '' : navigator.language || '';
  return browser.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export function currentLanguage(): Language {
  return isLanguage(i18n.language) ? i18n.language : 'en';
}

/** Sections some page asked for: loaded in every language the user switches to. */
const wanted = new Set<Section>(STARTUP);
const loading: Record<Language, Map<Section, Promise<void>>> = { ko: new Map(), en: new Map() };

function loadOne(lang: Language, section: Section): Promise<void> {
  let pending = loading[lang].get(section);
  if (!pending) {
    pending = loadSection(lang, section).then((tree) => {
      i18n.addResourceBundle(lang, 'translation', tree, true, true);
    });
    // A failed download (offline, a new deploy) is tried again by the next caller.
    pending.catch(() => loading[lang].delete(section));
    loading[lang].set(section, pending);
  }
  return pending;
}

/** Loads `sections` in the active language (and remembers them for a language switch). */
export async function loadSections(sections: readonly Section[], lang: Language = currentLanguage()): Promise<void> {
  for (const s of sections) wanted.add(s);
  await Promise.all(sections.map((s) => loadOne(lang, s)));
}

function loadWanted(lang: Language): Promise<void> {
  return loadSections([...wanted], lang);
}

export async function changeLanguage(lang: Language): Promise<void> {
  try {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, lang);
  } catch {
    // Not persisted, but the switch still applies to this tab.
  }
  await loadWanted(lang);
  await i18n.changeLanguage(lang);
}

i18n.on('languageChanged', (lng) => {
  // i18n.changeLanguage called directly: the strings follow (the page re-renders when they land).
  if (isLanguage(lng)) void loadWanted(lng);
  if (typeof document === 'undefined') return;
  document.documentElement.lang = lng;
  document.title = i18n.t('app.name');
});

/**
 * A key of a section not loaded in this language (nobody asked for it, or its download failed):
 * load it; react-i18next re-renders when it is added.
 */
function onMissingKey(_lngs: readonly string[], _ns: string, key: string): void {
  const section = sectionOf(key);
  if (loading[currentLanguage()].has(section)) return; // loaded or on its way: the key itself is missing
  if (import.meta.env.DEV && !wanted.has(section)) console.warn(`i18n: "${key}" needed section "${section}" before it was loaded`);
  void loadSections([section]).catch(() => undefined);
}

const initial = detectLanguage();
const eager = import.meta.env.MODE === 'test';

await i18n.use(initReactI18next).init({
  resources: {},
  partialBundledLanguages: true,
  lng: initial,
  fallbackLng: 'en',
  supportedLngs: [...LANGUAGES],
  interpolation: { escapeValue: false }, // React escapes already
  saveMissing: true,
  missingKeyHandler: onMissingKey,
  // Re-render when a section arrives (a page's strings, or the other language's).
  react: { bindI18nStore: 'added' },
});

/** DEFERRED in the active language, and the English `codes` lib/messages.ts compares with. */
export async function loadDeferred(): Promise<void> {
  await Promise.all([loadSections(DEFERRED), loadOne('en', 'codes')]);
}

// A failed download shows the keys rather than no console; each is tried again when first missed.
await Promise.all(eager ? LANGUAGES.map((lang) => loadSections(SECTIONS, lang)) : [loadSections(STARTUP, initial)]).catch(
  (error: unknown) => console.error('i18n: could not load the strings', error),
);
if (typeof document !== 'undefined') document.title = i18n.t('app.name');

export default i18n;
