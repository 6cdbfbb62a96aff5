import { useTranslation } from 'react-i18next';
import { EmptyState } from '../components/EmptyState';

/** A page the user may not open (route guards): the page's one `<h1>` says so, the card says why. */
export function Forbidden() {
  const { t } = useTranslation();
  return (
    <section className="page">
      <header className="page-header">
        <h1>{t('forbidden.title')}</h1>
      </header>
      <EmptyState title={t('forbidden.body')} testId="forbidden" />
    </section>
  );
}
