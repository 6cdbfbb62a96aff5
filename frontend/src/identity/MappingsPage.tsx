/**
 * /admin/identity/:id (system admins): one provider's group mappings. A group (an OIDC groups
 * claim value, an LDAP group DN) maps to a system role or to a role in a workspace; mappings are
 * evaluated at every sign-in (and on a schedule for LDAP). The preview lists the provider's known
 * identities and the roles the current mappings would give each of them.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import type { Role } from '../api/types';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { apiErrorText } from '../lib/messages';
import { ROLES } from '../users/queries';
import { rowsOf } from '../workspaces/api';
import { useRoles, useWorkspaces } from '../workspaces/queries';
import { useCreateMapping, useDeleteMapping, useMappings, usePreview, useProvider } from './queries';
import type { GroupMapping, MappingRule, PreviewUser } from './types';
import './identity.css';

function useTargetText() {
  const { t } = useTranslation();
  const workspaces = rowsOf(useWorkspaces().data);
  const roles = useRoles().data ?? [];
  const workspaceName = (id: number | null, name?: string | null) =>
    name ?? workspaces.find((w) => w.id === id)?.name ?? (id === null ? '' : `#${id}`);
  const roleName = (key: string | null) => roles.find((r) => r.key === key)?.name ?? key ?? '';
  return {
    mapping: (m: GroupMapping) =>
      m.system_role
        ? t('identity.mappings.systemRole', { role: t(`roles.${m.system_role}`) })
        : t('identity.mappings.workspaceRole', { workspace: workspaceName(m.workspace, m.workspace_name), role: roleName(m.role) }),
    user: (u: PreviewUser) => {
      const parts: string[] = [];
      if (u.system_role) parts.push(t('identity.mappings.systemRole', { role: t(`roles.${u.system_role}`) }));
      for (const w of u.workspaces ?? []) {
        parts.push(t('identity.mappings.workspaceRole', { workspace: workspaceName(w.workspace, w.workspace_name), role: roleName(w.role) }));
      }
      return parts.join(', ') || t('identity.preview.nothing');
    },
  };
}

function AddMapping({ provider, onPreview }: { provider: number; onPreview: (rule: MappingRule | null) => void }) {
  const { t } = useTranslation();
  const create = useCreateMapping();
  const workspaces = rowsOf(useWorkspaces().data);
  const roles = useRoles().data ?? [];
  const [group, setGroup] = useState('');
  const [target, setTarget] = useState<'system' | 'workspace'>('system');
  const [systemRole, setSystemRole] = useState<Role>('user');
  const [workspace, setWorkspace] = useState('');
  const [role, setRole] = useState('');
  const err = (f: string) => create.error?.forField(f) ?? [];
  const ready = group.trim() !== '' && (target === 'system' || (workspace !== '' && role !== ''));
  const rule = (): MappingRule =>
    target === 'system' ? { group: group.trim(), system_role: systemRole } : { group: group.trim(), workspace: Number(workspace), role };
  return (
    <form
      className="card form-stack"
      data-testid="add-mapping"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate(
          { provider, ...rule() },
          {
            onSuccess: () => {
              setGroup('');
              onPreview(null);
            },
          },
        );
      }}
    >
      <h2>{t('identity.mappings.add')}</h2>
      {create.error && (
        <div className="alert alert-error" role="alert" data-testid="mapping-error">
          {apiErrorText(t, create.error)}
        </div>
      )}
      <FormField label={t('identity.mappings.group')} errors={err('group')}>
        <input name="group" className="mono" value={group} placeholder="cn=ops,ou=groups,dc=example,dc=org" onChange={(e) => setGroup(e.target.value)} />
      </FormField>
      <fieldset className="identity-target">
        <legend>{t('identity.mappings.target')}</legend>
        <label className="checkbox">
          <input type="radio" name="target" value="system" checked={target === 'system'} onChange={() => setTarget('system')} />
          {t('identity.mappings.toSystem')}
        </label>
        <label className="checkbox">
          <input type="radio" name="target" value="workspace" checked={target === 'workspace'} onChange={() => setTarget('workspace')} />
          {t('identity.mappings.toWorkspace')}
        </label>
      </fieldset>
      {target === 'system' ? (
        <FormField label={t('users.field.role')} errors={err('system_role')}>
          <select name="system_role" value={systemRole} onChange={(e) => setSystemRole(ROLES.find((r) => r === e.target.value) ?? 'user')}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`roles.${r}`)}
              </option>
            ))}
          </select>
        </FormField>
      ) : (
        <div className="form-row">
          <FormField label={t('identity.mappings.workspace')} errors={err('workspace')}>
            <select name="workspace" value={workspace} onChange={(e) => setWorkspace(e.target.value)}>
              <option value="">{t('identity.mappings.choose')}</option>
              {workspaces.map((w) => (
                <option key={w.id} value={String(w.id)}>
                  {w.display_name || w.name}
                </option>
              ))}
            </select>
          </FormField>
          <FormField label={t('identity.mappings.role')} errors={err('role')}>
            <select name="role" value={role} onChange={(e) => setRole(e.target.value)}>
              <option value="">{t('identity.mappings.choose')}</option>
              {roles.map((r) => (
                <option key={r.key} value={r.key}>
                  {r.name}
                </option>
              ))}
            </select>
          </FormField>
        </div>
      )}
      <div>
        <button type="submit" className="btn btn-primary" disabled={!ready || create.isPending} data-testid="add-mapping-submit">
          {create.isPending ? t('common.saving') : t('identity.mappings.addSubmit')}
        </button>{' '}
        <button type="button" className="btn" disabled={!ready} data-testid="preview-mapping" onClick={() => onPreview(rule())}>
          {t('identity.preview.withNew')}
        </button>
      </div>
    </form>
  );
}

/** Stored mappings' effect, or with `proposed` the effect of the stored ones plus that one. */
function Preview({ provider, stored, proposed, onBack }: { provider: number; stored: GroupMapping[]; proposed: MappingRule | null; onBack: () => void }) {
  const { t } = useTranslation();
  const rules = proposed
    ? [
        ...stored.map((m): MappingRule =>
          m.system_role ? { group: m.group, system_role: m.system_role } : { group: m.group, workspace: m.workspace, role: m.role },
        ),
        proposed,
      ]
    : null;
  const preview = usePreview(provider, rules);
  const text = useTargetText();
  const users = preview.data ?? [];
  return (
    <section className="card" data-testid="mapping-preview">
      <header className="page-header-row">
        <h2>{proposed ? t('identity.preview.titleWithNew', { group: proposed.group }) : t('identity.preview.title')}</h2>
        {proposed && (
          <button type="button" className="btn btn-small" data-testid="preview-back" onClick={onBack}>
            {t('identity.preview.back')}
          </button>
        )}
        <button type="button" className="btn btn-small" disabled={preview.isFetching} onClick={() => void preview.refetch()}>
          {t('identity.preview.refresh')}
        </button>
      </header>
      {preview.isPending && <Loading />}
      {preview.isError && <ErrorState error={preview.error} onRetry={() => void preview.refetch()} />}
      {preview.data && (
        <>
          <p data-testid="preview-summary">
            {users.length === 0 ? t('identity.preview.none') : t('identity.preview.summary', { count: users.length })}
          </p>
          {users.length > 0 && (
            <table className="table table-dense" data-testid="preview-table">
              <thead>
                <tr>
                  <th scope="col">{t('users.field.username')}</th>
                  <th scope="col">{t('identity.preview.groups')}</th>
                  <th scope="col">{t('identity.preview.roles')}</th>
                </tr>
              </thead>
              <tbody>
                {users.map((u) => (
                  <tr key={u.username} data-testid={`preview-row-${u.username}`}>
                    <td className="mono">{u.username}</td>
                    <td className="mono identity-groups">{(u.groups ?? []).join(', ') || t('common.none')}</td>
                    <td>{text.user(u)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

export function MappingsPage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const provider = useProvider(id);
  const mappings = useMappings(id);
  const remove = useDeleteMapping();
  const text = useTargetText();
  const [proposed, setProposed] = useState<MappingRule | null>(null);
  return (
    <section className="page" data-testid="identity-mappings-page">
      <header className="page-header">
        <Link to="/admin/identity">← {t('identity.title')}</Link>
        <h1>{t('identity.mappings.title', { name: provider.data ? provider.data.display_name || provider.data.name : '' })}</h1>
        <p className="muted">{t('identity.mappings.intro')}</p>
      </header>
      {provider.isError && <ErrorState error={provider.error} />}
      {remove.error && (
        <div className="alert alert-error" role="alert" data-testid="mappings-error">
          {apiErrorText(t, remove.error)}
        </div>
      )}
      <section className="card">
        {mappings.isPending && <Loading />}
        {mappings.isError && <ErrorState error={mappings.error} onRetry={() => void mappings.refetch()} />}
        {mappings.data && mappings.data.length === 0 && <p className="muted">{t('identity.mappings.empty')}</p>}
        {mappings.data && mappings.data.length > 0 && (
          <table className="table table-dense" data-testid="mappings-table">
            <thead>
              <tr>
                <th scope="col">{t('identity.mappings.group')}</th>
                <th scope="col">{t('identity.mappings.grants')}</th>
                <th scope="col" className="actions-col">
                  {t('clusters.col.actions')}
                </th>
              </tr>
            </thead>
            <tbody>
              {mappings.data.map((m) => (
                <tr key={m.id} data-testid={`mapping-row-${m.id}`}>
                  <td className="mono identity-groups">{m.group}</td>
                  <td>{text.mapping(m)}</td>
                  <td className="actions-col">
                    <button
                      type="button"
                      className="btn btn-small"
                      data-testid={`delete-mapping-${m.id}`}
                      disabled={remove.isPending}
                      onClick={() => remove.mutate(m.id)}
                    >
                      {t('identity.mappings.remove')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <AddMapping provider={id} onPreview={setProposed} />
      <Preview provider={id} stored={mappings.data ?? []} proposed={proposed} onBack={() => setProposed(null)} />
    </section>
  );
}
