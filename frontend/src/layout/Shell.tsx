/**
 * The authenticated frame: top bar, dark left navigation, and the page. It
 * owns the socket's lifetime: connected while a user is logged in.
 */
import { useEffect } from 'react';
import { Link, Outlet } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { useMe } from '../auth/queries';
import { getSocket } from '../lib/socket';
import { GlobalSearch } from '../clusters/GlobalSearch';
import { ConnectionBanner, WsStatus } from './ConnectionStatus';
import { LanguageSwitch } from './LanguageSwitch';
import { Sidebar } from './Sidebar';
import { ThemeSwitch } from './ThemeSwitch';
import { UserMenu } from './UserMenu';
import { RouteNotice } from '../components/RouteNotice';

export function Shell() {
  const { t } = useTranslation();
  const me = useMe();
  const user = me.data;

  useEffect(() => {
    if (!user) return undefined;
    const socket = getSocket();
    socket.start();
    return () => socket.stop();
    // Keyed on the id: a refetch of the same user must not reconnect.
  }, [user?.id]);

  if (!user) return null; // RequireAuth renders the redirect
  return (
    <div className="shell">
      <a
        className="skip-link"
        href="#main"
        data-testid="skip-link"
        onClick={(e) => {
          // Focus the page itself (a hash link alone scrolls but leaves focus in the top bar).
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        {t('a11y.skipToContent')}
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ⎈
          </span>
          {t('app.name')}
        </Link>
        {/* Everyone searches what they may see: members get their service maps' namespaces (issue 22). */}
        <GlobalSearch />
        <div className="topbar-right">
          <WsStatus />
          <ThemeSwitch />
          <LanguageSwitch />
          <UserMenu user={user} />
        </div>
      </header>
      <Sidebar isAdmin={user.is_admin} isOperator={user.role === 'operator' || user.role === 'auditor'} />
      <main className="content" id="main" tabIndex={-1}>
        <ConnectionBanner />
        <RouteNotice />
        <Outlet />
      </main>
    </div>
  );
}
