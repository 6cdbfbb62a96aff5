import { useTranslation } from 'react-i18next';
import { changeLanguage, type Language } from '../i18n';

const LABELS: Record<Language, string> = { ko: '한국어', en: 'English' };

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <label className="lang-switch">
      <span className="visually-hidden">{t('topbar.language')}</span>
      <select
        data-testid="lang-switch"
        value={i18n.language}
        onChange={(e) => void changeLanguage(e.target.value === 'ko' ? 'ko' : 'en')}
      >
        {(Object.keys(LABELS) as Language[]).map((lang) => (
          <option key={lang} value={lang}>
            {LABELS[lang]}
          </option>
        ))}
      </select>
    </label>
  );
}
