import { NavLink } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { NAV_ITEMS } from './nav';

const linkClass = ({ isActive }: { isActive: boolean }) => (isActive ? 'nav-link active' : 'nav-link');

export function Sidebar({ isAdmin, isOperator = false }: { isAdmin: boolean; isOperator?: boolean }) {
  const { t } = useTranslation();
  const seesProvisioning = isAdmin || isOperator;
  return (
    <nav className="sidebar" aria-label={t('nav.label')}>
      <ul className="nav-list">
        {NAV_ITEMS.map((item) => (
          <li key={item.key}>
            <NavLink to={item.path} end={item.path === '/'} className={linkClass} data-testid={`nav-${item.key}`}>
              <span className="nav-icon" aria-hidden="true">
                {item.icon}
              </span>
              {t(`nav.${item.key}`)}
            </NavLink>
          </li>
        ))}
        {seesProvisioning && (
          <li>
            <NavLink to="/provisioning" className={linkClass} data-testid="nav-provisioning">
              <span className="nav-icon" aria-hidden="true">
                ⬢
              </span>
              {t('nav.provisioning')}
            </NavLink>
          </li>
        )}
        {isAdmin && (
          <li>
            <NavLink to="/admin" className={linkClass} data-testid="nav-admin">
              <span className="nav-icon" aria-hidden="true">
                ⚙
              </span>
              {t('nav.admin')}
            </NavLink>
            <ul className="nav-sublist">
              <li>
                <NavLink to="/admin/users" className={linkClass} data-testid="nav-admin-users">
                  {t('nav.users')}
                </NavLink>
              </li>
              <li>
                <NavLink to="/admin/identity" className={linkClass} data-testid="nav-admin-identity">
                  {t('nav.identity')}
                </NavLink>
              </li>
              <li>
                <NavLink to="/admin/audit" className={linkClass} data-testid="nav-admin-audit">
                  {t('nav.audit')}
                </NavLink>
              </li>
              <li>
                <NavLink to="/admin/quotas" className={linkClass} data-testid="nav-admin-quotas">
                  {t('nav.quotas')}
                </NavLink>
              </li>
              <li>
                <NavLink to="/admin/roles" className={linkClass} data-testid="nav-admin-roles">
                  {t('nav.roles')}
                </NavLink>
              </li>
              <li>
                <NavLink to="/admin/settings" className={linkClass} data-testid="nav-admin-settings">
                  {t('nav.adminSettings')}
                </NavLink>
              </li>
            </ul>
          </li>
        )}
        {!isAdmin && isOperator && (
          <li>
            <NavLink to="/admin/quotas" className={linkClass} data-testid="nav-admin-quotas">
              <span className="nav-icon" aria-hidden="true">
                ◫
              </span>
              {t('nav.quotas')}
            </NavLink>
          </li>
        )}
      </ul>
    </nav>
  );
}
