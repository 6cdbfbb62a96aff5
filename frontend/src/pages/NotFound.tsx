import { Link } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '../components/EmptyState';

/** An unknown address inside the Shell: the page's one `<h1>` says so, the card says what to do. */
export function NotFound() {
  const { t } = useTranslation();
  return (
    <section className="page">
      <header className="page-header">
        <h1>{t('notFound.title')}</h1>
      </header>
      <EmptyState title={t('notFound.body')} testId="not-found">
        <Link to="/" className="btn">
          {t('notFound.back')}
        </Link>
      </EmptyState>
    </section>
  );
}
