/** Empty state for sections whose features arrive with later issues. */
import { Link } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '../components/EmptyState';
import type { NavItem } from '../layout/nav';

export function NotAvailable({ section }: { section: NavItem['key'] }) {
  const { t } = useTranslation();
  const feature = t(`nav.${section}`);
  return (
    <section className="page">
      <header className="page-header">
        <h1>{feature}</h1>
      </header>
      <EmptyState title={t('unavailable.title')} testId="not-available">
        <p>{t('unavailable.body', { feature })}</p>
        <Link to="/" className="btn">
          {t('unavailable.back')}
        </Link>
      </EmptyState>
    </section>
  );
}
