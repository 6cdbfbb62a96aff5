import { Link } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '../components/EmptyState';

export function NotFound() {
  const { t } = useTranslation();
  return (
    <section className="page">
      <EmptyState title={t('notFound.title')} testId="not-found">
        <p>{t('notFound.body')}</p>
        <Link to="/" className="btn">
          {t('notFound.back')}
        </Link>
      </EmptyState>
    </section>
  );
}
