/**
 * /admin/users (system admins): accounts and their roles. Filters (q, role, active) and cursor
 * live in the URL. Demoting or deactivating the last admin answers 409; its detail is shown.
 * An account locked after too many failed logins shows "Locked" and an Unlock button.
 */
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import type { AdminUser } from '../api/types';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { Pager } from '../components/Pager';
import { formatDateTime } from '../lib/format';
import { ROLES, useUnlockUser, useUpdateUser, useUsers, type UserFilters } from './queries';
import { CreateUserDialog, EditUserDialog, SetPasswordDialog } from './UserDialogs';
import { apiErrorText } from '../lib/messages';

function filtersFrom(params: URLSearchParams): UserFilters {
  const active = params.get('is_active');
  return {
    q: params.get('q') ?? '',
    role: ROLES.find((r) => r === params.get('role')) ?? '',
    active: active === 'true' || active === 'false' ? active : '',
  };
}

export function UsersPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const filters = useMemo(() => filtersFrom(new URLSearchParams(key)), [key]);
  const cursor = params.get('cursor');
  const users = useUsers(filters, cursor);
  const toggle = useUpdateUser();
  const unlock = useUnlockUser();
  const actionError = toggle.error ?? unlock.error;
  const [dialog, setDialog] = useState<{ kind: 'create' } | { kind: 'edit' | 'password'; user: AdminUser } | null>(null);
  const [q, setQ] = useState(filters.q);
  useEffect(() => setQ(filters.q), [filters.q]);

  const update = (next: Partial<UserFilters>, nextCursor: string | null = null) => {
    const merged = { ...filters, ...next };
    const p = new URLSearchParams();
    if (merged.q) p.set('q', merged.q);
    if (merged.role) p.set('role', merged.role);
    if (merged.active) p.set('is_active', merged.active);
    if (nextCursor) p.set('cursor', nextCursor);
    setParams(p, { replace: true });
  };

  return (
    <section className="page" data-testid="users-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('users.title')}</h1>
          <p className="muted">{t('users.intro')}</p>
        </div>
        <button type="button" className="btn btn-primary" data-testid="create-user" onClick={() => setDialog({ kind: 'create' })}>
          + {t('users.create.title')}
        </button>
      </header>
      <form
        className="filters"
        data-testid="users-filters"
        onSubmit={(e) => {
          e.preventDefault();
          update({ q: q.trim() });
        }}
      >
        <label className="field field-grow">
          <span>{t('users.filter.search')}</span>
          <input type="search" name="q" value={q} onChange={(e) => setQ(e.target.value)} onBlur={() => q.trim() !== filters.q && update({ q: q.trim() })} />
        </label>
        <label className="field">
          <span>{t('users.field.role')}</span>
          <select name="role" value={filters.role} onChange={(e) => update({ role: ROLES.find((r) => r === e.target.value) ?? '' })}>
            <option value="">{t('clusters.filter.any')}</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`roles.${r}`)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>{t('users.field.active')}</span>
          <select
            name="is_active"
            value={filters.active}
            onChange={(e) => update({ active: e.target.value === 'true' || e.target.value === 'false' ? e.target.value : '' })}
          >
            <option value="">{t('clusters.filter.any')}</option>
            <option value="true">{t('users.active')}</option>
            <option value="false">{t('users.inactive')}</option>
          </select>
        </label>
        <div className="filter-buttons">
          <button type="submit" className="btn">
            {t('audit.filter.apply')}
          </button>
        </div>
      </form>
      {actionError && (
        <div className="alert alert-error" role="alert" data-testid="users-error">
          {apiErrorText(t, actionError)}
          <button
            type="button"
            className="btn btn-small"
            onClick={() => {
              toggle.reset();
              unlock.reset();
            }}
          >
            {t('common.dismiss')}
          </button>
        </div>
      )}
      <section className="card">
        {users.isPending && <Loading />}
        {users.isError && <ErrorState error={users.error} onRetry={() => void users.refetch()} />}
        {users.data && users.data.results.length === 0 && <p className="muted">{t('users.empty')}</p>}
        {users.data && users.data.results.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense" data-testid="users-table">
              <thead>
                <tr>
                  <th scope="col">{t('users.field.username')}</th>
                  <th scope="col">{t('users.col.name')}</th>
                  <th scope="col">{t('users.field.email')}</th>
                  <th scope="col">{t('users.field.role')}</th>
                  <th scope="col">{t('users.field.active')}</th>
                  <th scope="col">{t('users.col.lastLogin')}</th>
                  <th scope="col" className="actions-col">
                    {t('clusters.col.actions')}
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.results.map((u) => (
                  <tr key={u.id} data-testid={`user-row-${u.username}`} className={u.is_active === false ? 'row-disabled' : undefined}>
                    <td className="mono">
                      <Link to={`/admin/users/${u.id}`} data-testid={`user-link-${u.username}`}>
                        {u.username}
                      </Link>
                    </td>
                    <td>{[u.first_name, u.last_name].filter(Boolean).join(' ') || t('common.none')}</td>
                    <td>{u.email || t('common.none')}</td>
                    <td>
                      <span className={`badge role-${u.role ?? 'user'}`}>{t(`roles.${u.role ?? 'user'}`)}</span>
                    </td>
                    <td>
                      {u.is_active === false ? <span className="badge tone-bad">{t('users.inactive')}</span> : t('users.active')}
                      {u.locked_until && (
                        <>
                          {' '}
                          <span
                            className="badge tone-warn"
                            data-testid={`locked-${u.username}`}
                            title={t('users.lockedUntil', { time: formatDateTime(u.locked_until) ?? '' })}
                          >
                            {t('users.locked')}
                          </span>
                        </>
                      )}
                    </td>
                    <td className="nowrap">{formatDateTime(u.last_login) ?? t('common.never')}</td>
                    <td className="actions-col">
                      <div className="row-actions">
                        <button type="button" className="btn btn-small" data-testid={`edit-user-${u.username}`} onClick={() => setDialog({ kind: 'edit', user: u })}>
                          {t('users.edit.button')}
                        </button>
                        <button
                          type="button"
                          className="btn btn-small"
                          data-testid={`set-password-${u.username}`}
                          onClick={() => setDialog({ kind: 'password', user: u })}
                        >
                          {t('users.password.button')}
                        </button>
                        <button
                          type="button"
                          className="btn btn-small"
                          data-testid={`toggle-active-${u.username}`}
                          disabled={toggle.isPending}
                          onClick={() => toggle.mutate({ id: u.id, body: { is_active: u.is_active === false } })}
                        >
                          {u.is_active === false ? t('users.activate') : t('users.deactivate')}
                        </button>
                        {u.locked_until && (
                          <button
                            type="button"
                            className="btn btn-small"
                            data-testid={`unlock-user-${u.username}`}
                            disabled={unlock.isPending}
                            onClick={() => unlock.mutate(u.id)}
                          >
                            {t('users.unlock')}
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {users.data && <Pager next={users.data.next} previous={users.data.previous} onPage={(c) => update({}, c)} />}
      </section>
      {dialog?.kind === 'create' && <CreateUserDialog onClose={() => setDialog(null)} />}
      {dialog?.kind === 'edit' && <EditUserDialog user={dialog.user} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'password' && <SetPasswordDialog user={dialog.user} onClose={() => setDialog(null)} />}
    </section>
  );
}
