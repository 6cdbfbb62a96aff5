/**
 * Light, dark or the system's setting. The colours are CSS variables in styles.css: without a
 * choice the stylesheet follows `prefers-color-scheme`; a choice sets `data-theme` on <html>,
 * which wins over the media query. The choice is remembered in localStorage ("system" removes
 * it). Charts and other canvas code read the resolved theme (`resolvedTheme`) and listen for
 * changes (`onThemeChange`), since a canvas cannot use CSS variables.
 */

import { useEffect, useState } from 'react';

export const THEMES = ['system', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];
export type ResolvedTheme = 'light' | 'dark';
export const THEME_STORAGE_KEY = 'portal.theme';
const CHANGE_EVENT = 'portal-theme-change';

export function isTheme(value: unknown): value is Theme {
  return typeof value === 'string' && (THEMES as readonly string[]).includes(value);
}

/** The stored choice; "system" when none (or storage is disabled). */
export function storedTheme(): Theme {
  try {
    const value = window.localStorage.getItem(THEME_STORAGE_KEY);
    return isTheme(value) ? value : 'system';
  } catch {
    return 'system';
  }
}

function systemDark(): boolean {
  return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: dark)').matches;
}

/** What the page shows now: the choice, or the system's setting for "system". */
export function resolvedTheme(theme: Theme = storedTheme()): ResolvedTheme {
  if (theme === 'system') return systemDark() ? 'dark' : 'light';
  return theme;
}

/** Puts `theme` on the document (no attribute for "system": the stylesheet follows the system). */
export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  if (theme === 'system') root.removeAttribute('data-theme');
  else root.setAttribute('data-theme', theme);
}

/** Remembers and applies `theme`, and tells the listeners. */
export function setTheme(theme: Theme): void {
  try {
    if (theme === 'system') window.localStorage.removeItem(THEME_STORAGE_KEY);
    else window.localStorage.setItem(THEME_STORAGE_KEY, theme);
  } catch {
    // Not remembered, but applied to this tab.
  }
  applyTheme(theme);
  window.dispatchEvent(new CustomEvent(CHANGE_EVENT));
}

/** Calls `listener` with the resolved theme whenever it changes: a choice here, in another tab,
 *  or the system's setting while "system" is chosen. Returns the unsubscribe function. */
export function onThemeChange(listener: (theme: ResolvedTheme) => void): () => void {
  const notify = () => listener(resolvedTheme());
  const onStorage = (e: StorageEvent) => {
    if (e.key !== THEME_STORAGE_KEY) return;
    applyTheme(storedTheme());
    notify();
  };
  const media = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  window.addEventListener(CHANGE_EVENT, notify);
  window.addEventListener('storage', onStorage);
  media?.addEventListener?.('change', notify);
  return () => {
    window.removeEventListener(CHANGE_EVENT, notify);
    window.removeEventListener('storage', onStorage);
    media?.removeEventListener?.('change', notify);
  };
}

/** The resolved theme, re-rendering when it changes (for canvas colours such as the charts'). */
export function useResolvedTheme(): ResolvedTheme {
  const [theme, setResolved] = useState<ResolvedTheme>(() => resolvedTheme());
  useEffect(() => onThemeChange(setResolved), []);
  return theme;
}

/** Applies the stored choice; main.tsx calls it before the first render. */
export function initTheme(): void {
  applyTheme(storedTheme());
}

// Also on load of this module (the Shell and the charts import it), so the stored choice holds
// even before main.tsx calls initTheme.
if (typeof document !== 'undefined') initTheme();
