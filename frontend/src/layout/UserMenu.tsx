import { useEffect, useRef, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import type { User } from '../api/types';
import { useLogout } from '../auth/queries';

export function displayName(user: User): string {
  const full = [user.first_name, user.last_name].filter(Boolean).join(' ');
  return full || user.username;
}

export function UserMenu({ user }: { user: User }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const logout = useLogout();
  const navigate = useNavigate();

  useEffect(() => {
    if (!open) return undefined;
    const onDocClick = (e: MouseEvent) => {
      if (ref.current && e.target instanceof Node && !ref.current.contains(e.target)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        button.current?.focus(); // back to the button, not lost on the page
        return;
      }
      // Up/Down move between the items (Tab works too).
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      const items = Array.from(ref.current?.querySelectorAll<HTMLElement>('[role=menuitem]:not([disabled])') ?? []);
      if (items.length === 0) return;
      e.preventDefault();
      const at = items.findIndex((el) => el === document.activeElement);
      const next = e.key === 'ArrowDown' ? (at + 1) % items.length : (at - 1 + items.length) % items.length;
      items[next]?.focus();
    };
    // Tabbing past the last item closes the menu rather than leaving it open behind.
    const onFocusIn = (e: FocusEvent) => {
      if (ref.current && e.target instanceof Node && !ref.current.contains(e.target)) setOpen(false);
    };
    document.addEventListener('focusin', onFocusIn);
    document.addEventListener('mousedown', onDocClick);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('focusin', onFocusIn);
      document.removeEventListener('mousedown', onDocClick);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  return (
    <div className="user-menu" ref={ref}>
      <button
        type="button"
        className="user-menu-button"
        ref={button}
        data-testid="user-menu"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={t('topbar.userMenu')}
        onClick={() => setOpen((v) => !v)}
      >
        <span className="avatar" aria-hidden="true">
          {user.username.slice(0, 1).toUpperCase()}
        </span>
        <span className="user-name">{displayName(user)}</span>
        <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div className="user-menu-popup" role="menu">
          <div className="user-menu-header">
            <strong>{user.username}</strong>
            <span>{t(`roles.${user.role}`)}</span>
          </div>
          <Link role="menuitem" to="/account/tokens" data-testid="menu-tokens" onClick={() => setOpen(false)}>
            {t('topbar.apiTokens')}
          </Link>
          <Link role="menuitem" to="/account/password" data-testid="menu-password" onClick={() => setOpen(false)}>
            {t('topbar.changePassword')}
          </Link>
          <button
            type="button"
            role="menuitem"
            data-testid="logout"
            disabled={logout.isPending}
            onClick={() =>
              logout.mutate(undefined, {
                onSettled: () => {
                  setOpen(false);
                  void navigate('/login', { replace: true });
                },
              })
            }
          >
            {logout.isPending ? t('topbar.loggingOut') : t('topbar.logout')}
          </button>
        </div>
      )}
    </div>
  );
}
