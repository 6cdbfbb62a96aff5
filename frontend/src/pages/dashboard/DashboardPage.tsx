/** /: who you are, whether the portal's services are healthy, where to start. */
import { Link } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { useMe } from '../../auth/queries';
import { displayName } from '../../layout/UserMenu';
import { FleetCard } from '../../clusters/FleetCard';
import { HealthCard } from './HealthCard';

export function DashboardPage() {
  const { t } = useTranslation();
  const { data: user } = useMe();
  if (!user) return null;
  return (
    <section className="page" data-testid="dashboard">
      <header className="page-header">
        <h1>{t('dashboard.title')}</h1>
      </header>
      <div className="welcome card">
        <h2 className="card-title">{t('dashboard.welcome', { name: displayName(user) })}</h2>
        <p className="muted" data-testid="dashboard-role">
          {t('dashboard.role', { role: t(`roles.${user.role}`) })}
        </p>
      </div>
      <div className="grid-2">
        {(user.role === 'admin' || user.role === 'operator' || user.role === 'auditor') && <FleetCard />}
        <HealthCard />
        <section className="card" aria-labelledby="start-title">
          <h2 id="start-title" className="card-title">
            {t('dashboard.start.title')}
          </h2>
          <ul className="start-list">
            <li>
              <Link to="/account/tokens">{t('topbar.apiTokens')}</Link> — {t('dashboard.start.tokens')}
            </li>
            <li>
              <a href="/api/docs/">API</a> — {t('dashboard.start.apiDocs')}
            </li>
            {user.is_admin && (
              <li>
                <Link to="/admin/audit">{t('nav.audit')}</Link> — {t('dashboard.start.audit')}
              </li>
            )}
            <li>
              <Link to="/clusters">{t('nav.clusters')}</Link> — {t('dashboard.start.clusters')}
            </li>
            {user.is_admin && (
              <li>
                <Link to="/admin/users">{t('nav.users')}</Link> — {t('dashboard.start.users')}
              </li>
            )}
            <li className="muted">{t('dashboard.start.soon')}</li>
          </ul>
        </section>
      </div>
    </section>
  );
}
