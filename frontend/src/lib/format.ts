/** Locale-aware formatting that follows the UI language, not the OS. */
import { currentLanguage } from '../i18n';

const LOCALES = { ko: 'ko-KR', en: 'en-US' } as const;

export function formatDateTime(value: string | null | undefined): string | null {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(LOCALES[currentLanguage()], {
    dateStyle: 'medium',
    timeStyle: 'medium',
  }).format(date);
}

export function formatTime(value: number): string {
  return new Intl.DateTimeFormat(LOCALES[currentLanguage()], { timeStyle: 'medium' }).format(
    new Date(value),
  );
}
