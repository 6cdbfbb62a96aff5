/**
 * /admin/roles: workspace roles and their grants. Built-in roles are read-only; admins create,
 * edit and delete custom ones (a role in use answers 409 on delete; the detail is shown).
 * Grants show in the reader's language (`workspaces.roles.grant.<grant>`, the server's English
 * description for a grant the console does not know yet) with their key beside them.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useMe } from '../auth/queries';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
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
      <section className="card">
        {roles.isPending && <Loading />}
        {roles.isError && <ErrorState error={roles.error} onRetry={() => void roles.refetch()} />}
        {roles.data && (
          <table className="table table-dense" data-testid="roles-table">
            <thead>
              <tr>
                <th scope="col">{t('workspaces.roles.key')}</th>
                <th scope="col">{t('workspaces.roles.name')}</th>
                <th scope="col">{t('workspaces.roles.grants')}</th>
                <th scope="col" className="actions-col">
                  {t('clusters.col.actions')}
                </th>
              </tr>
            </thead>
            <tbody>
              {roles.data.map((r) => (
                <tr key={r.id} data-testid={`role-row-${r.key}`} data-builtin={String(r.builtin)}>
                  <td className="mono">{r.key}</td>
                  <td>
                    {r.builtin ? roleLabel(r.key, r.name) : r.name}
                    {r.builtin && <span className="badge tone-neutral">{t('workspaces.roles.builtin')}</span>}
                    {r.description && <div className="small muted">{r.description}</div>}
                  </td>
                  <td>
                    {r.grants.length === 0 ? (
                      <span className="muted small">{t('workspaces.roles.readOnly')}</span>
                    ) : (
                      <span className="chips">
                        {r.grants.map((g) => (
                          <span key={g} className="chip small" title={g} data-testid={`role-${r.key}-grant-${g}`}>
                            {grantLabel(g)}
                          </span>
                        ))}
                      </span>
                    )}
                  </td>
                  <td className="actions-col">
                    {isAdmin && !r.builtin && (
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
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
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
