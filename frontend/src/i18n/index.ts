/**
 * i18next setup. Korean and English resources (resources.ts: ko.json / en.json and the
 * per-feature files merged into them) must have the same keys (i18n.test.ts checks). The choice is stored in
 * localStorage; without one, a browser whose language starts with "ko" gets
 * Korean and everyone else English.
 */
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en, ko } from './resources';

export const LANGUAGES = ['ko', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];
export const LANGUAGE_STORAGE_KEY = 'portal.language';

export const resources = { ko: { translation: ko }, en: { translation: en } } as const;

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

export async function changeLanguage(lang: Language): Promise<void> {
  try {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, lang);
  } catch {
    // Not persisted, but the switch still applies to this tab.
  }
  await i18n.changeLanguage(lang);
}

i18n.on('languageChanged', (lng) => {
  if (typeof document === 'undefined') return;
  document.documentElement.lang = lng;
  document.title = i18n.t('app.name');
});

void i18n.use(initReactI18next).init({
  resources,
  lng: detectLanguage(),
  fallbackLng: 'en',
  supportedLngs: [...LANGUAGES],
  interpolation: { escapeValue: false }, // React escapes already
});

export default i18n;
