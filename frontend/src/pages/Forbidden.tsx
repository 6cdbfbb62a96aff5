import { useTranslation } from 'react-i18next';
import { EmptyState } from '../components/EmptyState';

export function Forbidden() {
  const { t } = useTranslation();
  return (
    <section className="page">
      <EmptyState title={t('forbidden.title')} testId="forbidden">
        <p>{t('forbidden.body')}</p>
      </EmptyState>
    </section>
  );
}
