/** System / light / dark, in the top bar beside the language. See lib/theme.ts. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { THEMES, isTheme, setTheme, storedTheme, type Theme } from '../lib/theme';

export function ThemeSwitch() {
  const { t } = useTranslation();
  const [theme, setChoice] = useState<Theme>(storedTheme);
  return (
    <label className="lang-switch theme-switch">
      <span className="visually-hidden">{t('a11y.theme.label')}</span>
      <select
        data-testid="theme-switch"
        value={theme}
        onChange={(e) => {
          const next = isTheme(e.target.value) ? e.target.value : 'system';
          setTheme(next);
          setChoice(next);
        }}
      >
        {THEMES.map((x) => (
          <option key={x} value={x}>
            {t(`a11y.theme.${x}`)}
          </option>
        ))}
      </select>
    </label>
  );
}
