/** Create / edit / set-password dialogs of the users page; server errors shown at their fields. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminUser, Role } from '../api/types';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { ROLES, useCreateUser, useSetPassword, useUpdateUser } from './queries';
import { DialogActions } from '../components/DialogActions';
import { apiErrorText } from '../lib/messages';

/** Takes the id/aria props FormField gives its control, so the label and errors attach. */
function RoleSelect({
  value,
  onChange,
  ...control
}: {
  value: Role;
  onChange: (role: Role) => void;
  id?: string;
  'aria-invalid'?: boolean;
  'aria-describedby'?: string;
}) {
  const { t } = useTranslation();
  return (
    <select {...control} name="role" value={value} onChange={(e) => onChange(ROLES.find((r) => r === e.target.value) ?? 'user')}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {t(`roles.${r}`)}
        </option>
      ))}
    </select>
  );
}

/** What the chosen system role may do, under the role select. */
function RoleHint({ role }: { role: Role }) {
  const { t } = useTranslation();
  return (
    <p className="small muted" data-testid="role-hint">
      {t(`users.roleHint.${role}`)}
    </p>
  );
}

function FormError({ error, fields }: { error: { detail: string; fieldErrors: Record<string, string[]> } | null; fields: string[] }) {
  const { t } = useTranslation();
  if (!error) return null;
  const placed = Object.keys(error.fieldErrors).some((f) => fields.includes(f));
  const other = Object.entries(error.fieldErrors)
    .filter(([f]) => !fields.includes(f))
    .flatMap(([, m]) => m);
  if (placed && other.length === 0) return null;
  return (
    <div className="alert alert-error" role="alert" data-testid="user-error">
      <div>
        {apiErrorText(t, error)}
        {other.map((m) => (
          <div key={m}>{m}</div>
        ))}
      </div>
    </div>
  );
}

export function CreateUserDialog({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
  const create = useCreateUser();
  const [form, setForm] = useState({ username: '', email: '', first_name: '', last_name: '', role: 'user' as Role, password: '' });
  const set = (patch: Partial<typeof form>) => setForm((f) => ({ ...f, ...patch }));
  const err = (f: string) => create.error?.forField(f) ?? [];
  return (
    <Dialog
      title={t('users.create.title')}
      onClose={onClose}
      testId="create-user-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={create.isPending}
          disabled={!form.username.trim() || !form.password}
          label={t('users.create.submit')}
          testId="create-user-submit"
          form="create-user-form"
        />
      }
    >
      <form
        id="create-user-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ ...form, username: form.username.trim(), email: form.email.trim() }, { onSuccess: onClose });
        }}
      >
        <FormError error={create.error} fields={['username', 'email', 'first_name', 'last_name', 'role', 'password']} />
        <FormField label={t('users.field.username')} errors={err('username')}>
          <input name="username" autoComplete="off" value={form.username} onChange={(e) => set({ username: e.target.value })} />
        </FormField>
        <FormField label={t('users.field.email')} errors={err('email')}>
          <input name="email" type="email" value={form.email} onChange={(e) => set({ email: e.target.value })} />
        </FormField>
        <div className="form-row">
          <FormField label={t('users.field.firstName')} errors={err('first_name')}>
            <input name="first_name" value={form.first_name} onChange={(e) => set({ first_name: e.target.value })} />
          </FormField>
          <FormField label={t('users.field.lastName')} errors={err('last_name')}>
            <input name="last_name" value={form.last_name} onChange={(e) => set({ last_name: e.target.value })} />
          </FormField>
        </div>
        <FormField label={t('users.field.role')} errors={err('role')}>
          <RoleSelect value={form.role} onChange={(role) => set({ role })} />
        </FormField>
        <RoleHint role={form.role} />
        <FormField label={t('users.field.password')} errors={err('password')}>
          <input name="password" type="password" autoComplete="new-password" value={form.password} onChange={(e) => set({ password: e.target.value })} />
        </FormField>
      </form>
    </Dialog>
  );
}

export function EditUserDialog({ user, onClose }: { user: AdminUser; onClose: () => void }) {
  const { t } = useTranslation();
  const update = useUpdateUser();
  const [form, setForm] = useState({
    email: user.email ?? '',
    first_name: user.first_name ?? '',
    last_name: user.last_name ?? '',
    role: (user.role ?? 'user') as Role,
    is_active: user.is_active ?? true,
  });
  const set = (patch: Partial<typeof form>) => setForm((f) => ({ ...f, ...patch }));
  const err = (f: string) => update.error?.forField(f) ?? [];
  return (
    <Dialog
      title={t('users.edit.title', { name: user.username })}
      onClose={onClose}
      testId="edit-user-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={update.isPending}
          testId="edit-user-submit"
          form="edit-user-form"
        />
      }
    >
      <form
        id="edit-user-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          update.mutate({ id: user.id, body: form }, { onSuccess: onClose });
        }}
      >
        <FormError error={update.error} fields={['email', 'first_name', 'last_name', 'role', 'is_active']} />
        <FormField label={t('users.field.email')} errors={err('email')}>
          <input name="email" type="email" value={form.email} onChange={(e) => set({ email: e.target.value })} />
        </FormField>
        <div className="form-row">
          <FormField label={t('users.field.firstName')} errors={err('first_name')}>
            <input name="first_name" value={form.first_name} onChange={(e) => set({ first_name: e.target.value })} />
          </FormField>
          <FormField label={t('users.field.lastName')} errors={err('last_name')}>
            <input name="last_name" value={form.last_name} onChange={(e) => set({ last_name: e.target.value })} />
          </FormField>
        </div>
        <FormField label={t('users.field.role')} errors={err('role')}>
          <RoleSelect value={form.role} onChange={(role) => set({ role })} />
        </FormField>
        <RoleHint role={form.role} />
        <label className="checkbox">
          <input type="checkbox" name="is_active" checked={form.is_active} onChange={(e) => set({ is_active: e.target.checked })} />
          {t('users.field.active')}
        </label>
      </form>
    </Dialog>
  );
}

export function SetPasswordDialog({ user, onClose }: { user: AdminUser; onClose: () => void }) {
  const { t } = useTranslation();
  const setPassword = useSetPassword();
  const [password, setValue] = useState('');
  const [done, setDone] = useState(false);
  return (
    <Dialog
      title={t('users.password.title', { name: user.username })}
      onClose={onClose}
      testId="set-password-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            {done ? t('common.close') : t('common.cancel')}
          </button>
          {!done && (
            <button
              type="submit"
              form="set-password-form"
              className="btn btn-primary"
              disabled={setPassword.isPending || !password}
              data-testid="set-password-submit"
            >
              {setPassword.isPending ? t('common.saving') : t('users.password.submit')}
            </button>
          )}
        </>
      }
    >
      {done ? (
        <p role="status" data-testid="set-password-done">
          {t('users.password.done')}
        </p>
      ) : (
        <form
          id="set-password-form"
          className="form-stack"
          onSubmit={(e) => {
            e.preventDefault();
            setPassword.mutate({ id: user.id, password }, { onSuccess: () => setDone(true) });
          }}
        >
          <FormError error={setPassword.error} fields={['password']} />
          <FormField label={t('users.field.newPassword')} errors={setPassword.error?.forField('password') ?? []}>
            <input name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setValue(e.target.value)} />
          </FormField>
        </form>
      )}
    </Dialog>
  );
}
