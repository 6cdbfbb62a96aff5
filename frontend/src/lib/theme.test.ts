import { afterEach, describe, expect, it, vi } from 'vitest';
import { THEME_STORAGE_KEY, applyTheme, initTheme, onThemeChange, resolvedTheme, setTheme, storedTheme } from './theme';

function stubSystem(dark: boolean) {
  const listeners: Array<() => void> = [];
  const media = {
    matches: dark,
    addEventListener: (_: string, fn: () => void) => listeners.push(fn),
    removeEventListener: vi.fn(),
  };
  vi.stubGlobal('matchMedia', () => media);
  return {
    change(next: boolean) {
      media.matches = next;
      listeners.forEach((fn) => fn());
    },
  };
}

afterEach(() => {
  document.documentElement.removeAttribute('data-theme');
});

describe('theme', () => {
  it('follows the system without a choice, and sets no attribute', () => {
    stubSystem(true);
    expect(storedTheme()).toBe('system');
    expect(resolvedTheme()).toBe('dark');
    initTheme();
    expect(document.documentElement.hasAttribute('data-theme')).toBe(false);
  });

  it('remembers a choice, applies it and tells the listeners', () => {
    stubSystem(false);
    const seen: string[] = [];
    const stop = onThemeChange((theme) => seen.push(theme));
    setTheme('dark');
    expect(window.localStorage.getItem(THEME_STORAGE_KEY)).toBe('dark');
    expect(document.documentElement.getAttribute('data-theme')).toBe('dark');
    expect(resolvedTheme()).toBe('dark');
    setTheme('system');
    expect(window.localStorage.getItem(THEME_STORAGE_KEY)).toBeNull();
    expect(document.documentElement.hasAttribute('data-theme')).toBe(false);
    stop();
    setTheme('light');
    expect(seen).toEqual(['dark', 'light']);
  });

  it('tells the listeners when the system changes while "system" is chosen', () => {
    const system = stubSystem(false);
    const seen: string[] = [];
    const stop = onThemeChange((theme) => seen.push(theme));
    system.change(true);
    stop();
    expect(seen).toEqual(['dark']);
  });

  it('ignores a stored value it does not know', () => {
    stubSystem(false);
    window.localStorage.setItem(THEME_STORAGE_KEY, 'purple');
    expect(storedTheme()).toBe('system');
    applyTheme(storedTheme());
    expect(document.documentElement.hasAttribute('data-theme')).toBe(false);
  });
});
