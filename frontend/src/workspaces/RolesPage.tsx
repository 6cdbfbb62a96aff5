/**
 * /admin/roles: workspace roles and their grants. Built-in roles are read-only; admins create,
 * edit and delete custom ones (a role in use answers 409 on delete; the detail is shown).
 * Grants show in the reader's language (`workspaces.roles.grant.<grant>`, the server's English
 * description for a grant the console does not know yet) with their key beside them. The list is
 * short and unpaged, on the console's DataTable (column chooser, keyboard, sticky header).
 */
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useMe } from '../auth/queries';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { DataTable, type ColumnDef } from '../components/table';
import { FormError, useRoleLabel } from './common';
import { useCreateRole, useDeleteRole, useGrants, usePatchRole, useRoles } from './queries';
import type { WorkspaceRole } from './types';
import { DialogActions } from '../components/DialogActions';

/** A grant's label in the reader's language; the server's description (or the key) for an unknown grant. */
export function useGrantLabel(): (key: string, description?: string) => string {
  const { t } = useTranslation();
  return (key, description) => t(`workspaces.roles.grant.${key}`, { defaultValue: description ?? key });
}

function RoleDialog({ role, onClose }: { role?: WorkspaceRole; onClose: () => void }) {
  const { t } = useTranslation();
  const grants = useGrants();
  const grantLabel = useGrantLabel();
  const create = useCreateRole();
  const patch = usePatchRole();
  const mutation = role ? patch : create;
  const [form, setForm] = useState({ key: role?.key ?? '', name: role?.name ?? '', description: role?.description ?? '', grants: role?.grants ?? [] });
  const err = (f: string) => mutation.error?.forField(f) ?? [];
  return (
    <Dialog
      title={role ? t('workspaces.roles.editTitle', { name: role.name || role.key }) : t('workspaces.roles.create')}
      onClose={onClose}
      testId="role-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={mutation.isPending}
          disabled={!form.key.trim()}
          testId="role-submit"
          form="role-form"
        />
      }
    >
      <form
        id="role-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          if (role) patch.mutate({ role: role.id, body: { name: form.name, description: form.description, grants: form.grants } }, { onSuccess: onClose });
          else create.mutate({ ...form, key: form.key.trim() }, { onSuccess: onClose });
        }}
      >
        <FormError error={mutation.error} fields={['key', 'name', 'description', 'grants']} testId="role-error" />
        <FormField label={t('workspaces.roles.key')} errors={err('key')}>
          <input name="key" className="mono" disabled={!!role} value={form.key} onChange={(e) => setForm((f) => ({ ...f, key: e.target.value }))} />
        </FormField>
        <FormField label={t('workspaces.roles.name')} errors={err('name')}>
          <input name="name" value={form.name} onChange={(e) => setForm((f) => ({ ...f, name: e.target.value }))} />
        </FormField>
        <FormField label={t('workspaces.field.description')} errors={err('description')}>
          <input name="description" value={form.description} onChange={(e) => setForm((f) => ({ ...f, description: e.target.value }))} />
        </FormField>
        <fieldset className="checkbox-group" data-testid="role-grants">
          <legend>{t('workspaces.roles.grants')}</legend>
          {grants.isPending && <Loading />}
          {grants.isError && <ErrorState error={grants.error} />}
          {grants.data?.map((g) => (
            <label key={g.key} className="checkbox">
              <input
                type="checkbox"
                name="grants"
                value={g.key}
                data-testid={`grant-${g.key}`}
                checked={form.grants.includes(g.key)}
                onChange={(e) =>
                  setForm((f) => ({ ...f, grants: e.target.checked ? [...f.grants, g.key] : f.grants.filter((x) => x !== g.key) }))
                }
              />
              <span>{grantLabel(g.key, g.description)}</span> <span className="mono muted small">{g.key}</span>
            </label>
          ))}
          {(err('grants') ?? []).map((m) => (
            <p key={m} className="field-errors" role="alert">
              {m}
            </p>
          ))}
        </fieldset>
      </form>
    </Dialog>
  );
}

export function RolesPage() {
  const { t } = useTranslation();
  const roleLabel = useRoleLabel();
  const grantLabel = useGrantLabel();
  const me = useMe();
  const isAdmin = me.data?.is_admin === true;
  const roles = useRoles();
  const remove = useDeleteRole();
  const [dialog, setDialog] = useState<{ kind: 'create' } | { kind: 'edit' | 'delete'; role: WorkspaceRole } | null>(null);
  const columns = useMemo<ColumnDef<WorkspaceRole, unknown>[]>(
    () => [
      {
        id: 'key',
        cell: ({ row }) => <span className="mono">{row.original.key}</span>,
        meta: { label: t('workspaces.roles.key') },
      },
      {
        id: 'name',
        cell: ({ row }) => {
          const r = row.original;
          return (
            <>
              {r.builtin ? roleLabel(r.key, r.name) : r.name}
              {r.builtin && (
                <span className="badge tone-neutral" data-testid={`role-builtin-${r.key}`}>
                  {t('workspaces.roles.builtin')}
                </span>
              )}
              {r.description && <div className="small muted">{r.description}</div>}
            </>
          );
        },
        meta: { label: t('workspaces.roles.name') },
      },
      {
        id: 'grants',
        cell: ({ row }) => {
          const r = row.original;
          if (r.grants.length === 0) return <span className="muted small">{t('workspaces.roles.readOnly')}</span>;
          return (
            <span className="chips">
              {r.grants.map((g) => (
                <span key={g} className="chip small" title={g} data-testid={`role-${r.key}-grant-${g}`}>
                  {grantLabel(g)}
                </span>
              ))}
            </span>
          );
        },
        meta: { label: t('workspaces.roles.grants') },
      },
      {
        id: 'actions',
        cell: ({ row }) => {
          const r = row.original;
          if (!isAdmin || r.builtin) return null;
          return (
            <div className="row-actions">
              <button type="button" className="btn btn-small" data-testid={`edit-role-${r.key}`} onClick={() => setDialog({ kind: 'edit', role: r })}>
                {t('workspaces.roles.edit')}
              </button>
              <button
                type="button"
                className="btn btn-small btn-danger-outline"
                data-testid={`delete-role-${r.key}`}
                onClick={() => setDialog({ kind: 'delete', role: r })}
              >
                {t('workspaces.roles.delete')}
              </button>
            </div>
          );
        },
        meta: { label: t('clusters.col.actions'), className: 'actions-col' },
      },
    ],
    [t, roleLabel, grantLabel, isAdmin],
  );
  return (
    <section className="page page-wide" data-testid="roles-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('workspaces.roles.title')}</h1>
          <p className="muted">{t('workspaces.roles.intro')}</p>
        </div>
        {isAdmin && (
          <button type="button" className="btn btn-primary" data-testid="create-role" onClick={() => setDialog({ kind: 'create' })}>
            + {t('workspaces.roles.create')}
          </button>
        )}
      </header>
      <section className="card card-flush">
        <DataTable<WorkspaceRole>
          tableKey="workspace.roles"
          label={t('admin.roles.table')}
          columns={columns}
          rows={roles.data ?? []}
          getRowId={(r) => String(r.id)}
          loading={roles.isPending}
          error={roles.error}
          empty={<p className="muted">{t('workspaces.roles.intro')}</p>}
          rowClassName={(r) => (r.builtin ? 'role-builtin' : undefined)}
          rowTestId={(r) => `role-row-${r.key}`}
          testId="roles-table"
          maxHeight="none"
        />
      </section>
      {dialog?.kind === 'create' && <RoleDialog onClose={() => setDialog(null)} />}
      {dialog?.kind === 'edit' && <RoleDialog role={dialog.role} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={t('workspaces.roles.delete')}
          message={t('workspaces.roles.deleteBody', { key: dialog.role.key })}
          confirmLabel={t('workspaces.roles.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() => remove.mutate(dialog.role.id, { onSuccess: () => setDialog(null) })}
          onCancel={() => {
            remove.reset();
            setDialog(null);
          }}
          submitTestId="confirm-delete-role"
        />
      )}
    </section>
  );
}
