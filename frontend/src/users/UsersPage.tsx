/**
 * /admin/users (system admins): accounts and their roles on the console's table, sorted and paged
 * on the server. Filters (q, role, active) and the ordering live in the URL. Demoting or
 * deactivating the last admin answers 409; its detail is shown. An account locked after too many
 * failed logins shows "Locked" and an Unlock button.
 */
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import type { AdminUser } from '../api/types';
import { DataTable, type ColumnDef, pagingProps } from '../components/table';
import { formatDateTime } from '../lib/format';
import { ROLES, parseOrdering, useUnlockUser, useUpdateUser, useUserList, type UserFilters } from './queries';
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

type DialogState = { kind: 'create' } | { kind: 'edit' | 'password'; user: AdminUser } | null;

export function UsersPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const filters = useMemo(() => filtersFrom(new URLSearchParams(key)), [key]);
  const ordering = parseOrdering(params.get('ordering'));
  const users = useUserList(filters, ordering);
  const toggle = useUpdateUser();
  const unlock = useUnlockUser();
  const actionError = toggle.error ?? unlock.error;
  const [dialog, setDialog] = useState<DialogState>(null);
  const [q, setQ] = useState(filters.q);
  useEffect(() => setQ(filters.q), [filters.q]);

  const update = (next: Partial<UserFilters>, nextOrdering: string | null = ordering) => {
    const merged = { ...filters, ...next };
    const p = new URLSearchParams();
    if (merged.q) p.set('q', merged.q);
    if (merged.role) p.set('role', merged.role);
    if (merged.active) p.set('is_active', merged.active);
    if (nextOrdering) p.set('ordering', nextOrdering);
    setParams(p, { replace: true });
  };

  const columns = useMemo<ColumnDef<AdminUser, unknown>[]>(
    () => [
      {
        id: 'username',
        cell: ({ row }) => (
          <Link to={`/admin/users/${row.original.id}`} data-testid={`user-link-${row.original.username}`} className="mono">
            {row.original.username}
          </Link>
        ),
        meta: { label: t('users.field.username'), sortKey: 'username' },
      },
      {
        id: 'name',
        cell: ({ row }) => [row.original.first_name, row.original.last_name].filter(Boolean).join(' ') || t('common.none'),
        meta: { label: t('users.col.name'), priority: 2 },
      },
      {
        id: 'email',
        cell: ({ row }) => row.original.email || t('common.none'),
        meta: { label: t('users.field.email'), priority: 2 },
      },
      {
        id: 'role',
        cell: ({ row }) => {
          const role = row.original.role ?? 'user';
          return <span className={`badge role-${role}`}>{t(`roles.${role}`)}</span>;
        },
        meta: { label: t('users.field.role'), sortKey: 'role' },
      },
      {
        id: 'is_active',
        cell: ({ row }) => {
          const u = row.original;
          return (
            <>
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
            </>
          );
        },
        meta: { label: t('users.field.active'), sortKey: 'is_active' },
      },
      {
        id: 'last_login',
        cell: ({ row }) => formatDateTime(row.original.last_login) ?? t('common.never'),
        meta: { label: t('users.col.lastLogin'), sortKey: 'last_login', className: 'nowrap', priority: 3 },
      },
      {
        id: 'actions',
        cell: ({ row }) => {
          const u = row.original;
          return (
            <div className="row-actions">
              <button type="button" className="btn btn-small" data-testid={`edit-user-${u.username}`} onClick={() => setDialog({ kind: 'edit', user: u })}>
                {t('users.edit.button')}
              </button>
              <button type="button" className="btn btn-small" data-testid={`set-password-${u.username}`} onClick={() => setDialog({ kind: 'password', user: u })}>
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
          );
        },
        meta: { label: t('clusters.col.actions'), className: 'actions-col' },
      },
    ],
    [t, toggle, unlock],
  );

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
      <section className="card card-flush">
        <DataTable<AdminUser>
          tableKey="users"
          label={t('admin.users.table')}
          columns={columns}
          rows={users.rows}
          getRowId={(u) => String(u.id)}
          ordering={ordering}
          onOrderingChange={(next) => update({}, next)}
          {...pagingProps(users)}
          empty={<p className="muted">{t('users.empty')}</p>}
          rowClassName={(u) => (u.is_active === false ? 'row-disabled' : undefined)}
          rowTestId={(u) => `user-row-${u.username}`}
          testId="users-table"
        />
      </section>
      {dialog?.kind === 'create' && <CreateUserDialog onClose={() => setDialog(null)} />}
      {dialog?.kind === 'edit' && <EditUserDialog user={dialog.user} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'password' && <SetPasswordDialog user={dialog.user} onClose={() => setDialog(null)} />}
    </section>
  );
}
