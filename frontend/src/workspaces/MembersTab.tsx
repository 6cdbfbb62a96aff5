/**
 * A workspace's members on the console's DataTable, newest first or sorted by the server by user,
 * role or since when, in keyset pages. Those with `members.manage` (and admins) add members from
 * the candidates search, change roles and remove members; a 409 (the last manager) is shown.
 * The list sits under `membersKey`: the writes and `member.changed` events refetch it.
 */
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { DataTable, useKeysetList, type ColumnDef, pagingProps } from '../components/table';
import { formatDateTime } from '../lib/format';
import { fetchKeysetPage } from '../lists/keyset';
import { FormError, useRoleLabel } from './common';
import { membersKey, useAddMember, useCandidates, usePatchMember, useRemoveMember, useRoles } from './queries';
import type { Member, UserRef, WorkspaceRole } from './types';
import { apiErrorText } from '../lib/messages';

function RoleSelect({
  roles,
  value,
  onChange,
  testId,
  disabled,
}: {
  roles: WorkspaceRole[];
  value: string;
  onChange: (role: string) => void;
  testId: string;
  disabled?: boolean;
}) {
  const { t } = useTranslation();
  const roleLabel = useRoleLabel();
  return (
    <select name="role" aria-label={t('workspaces.members.role')} data-testid={testId} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
      {!roles.some((r) => r.key === value) && <option value={value}>{value}</option>}
      {roles.map((r) => (
        <option key={r.key} value={r.key}>
          {roleLabel(r.key, r.name)}
        </option>
      ))}
    </select>
  );
}

function useDebounced(value: string, ms = 300): string {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

function AddMember({ workspaceId, roles }: { workspaceId: number; roles: WorkspaceRole[] }) {
  const { t } = useTranslation();
  const [q, setQ] = useState('');
  const [picked, setPicked] = useState<UserRef | null>(null);
  const [role, setRole] = useState('developer');
  const search = useDebounced(q.trim());
  const candidates = useCandidates(workspaceId, search, picked === null);
  const add = useAddMember(workspaceId);
  useEffect(() => {
    if (roles.length > 0 && !roles.some((r) => r.key === role)) setRole(roles[0]!.key);
  }, [roles, role]);
  return (
    <form
      className="card add-member"
      data-testid="add-member-form"
      onSubmit={(e) => {
        e.preventDefault();
        const user = picked?.username ?? q.trim();
        if (!user) return;
        add.mutate(
          { user, role },
          {
            onSuccess: () => {
              setPicked(null);
              setQ('');
            },
          },
        );
      }}
    >
      <h2 className="card-title">{t('workspaces.members.add')}</h2>
      <FormError error={add.error} fields={[]} testId="member-error" />
      <div className="filters">
        <label className="field field-grow">
          <span>{t('workspaces.members.user')}</span>
          <input
            name="user"
            data-testid="member-search"
            autoComplete="off"
            value={picked ? picked.username : q}
            placeholder={t('workspaces.members.searchHint')}
            onChange={(e) => {
              setPicked(null);
              setQ(e.target.value);
            }}
          />
        </label>
        <label className="field">
          <span>{t('workspaces.members.role')}</span>
          <RoleSelect roles={roles} value={role} onChange={setRole} testId="member-role" />
        </label>
        <div className="filter-buttons">
          <button type="submit" className="btn btn-primary" data-testid="add-member-submit" disabled={add.isPending || !(picked || q.trim())}>
            {add.isPending ? t('common.saving') : t('workspaces.members.addButton')}
          </button>
        </div>
      </div>
      {picked === null && (candidates.data?.length ?? 0) > 0 && (
        <ul className="candidate-list" data-testid="member-candidates">
          {candidates.data!.map((u) => (
            <li key={u.id}>
              <button type="button" className="btn btn-small" data-testid={`candidate-${u.username}`} onClick={() => setPicked(u)}>
                <span className="mono">{u.username}</span> {u.name && <span className="muted">{u.name}</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
      {candidates.isError && <p className="small bad-text">{apiErrorText(t, candidates.error)}</p>}
    </form>
  );
}

export function MembersTab({ workspaceId, canManage }: { workspaceId: number; canManage: boolean }) {
  const { t } = useTranslation();
  const [ordering, setOrdering] = useState<string | null>(null);
  const list = useKeysetList<Member>({
    queryKey: [...membersKey(workspaceId), 'keyset', ordering],
    fetchPage: (cursor) => fetchKeysetPage<Member>(`/api/workspaces/${workspaceId}/members/`, ordering ? { ordering } : {}, cursor),
  });
  const roles = useRoles();
  const patch = usePatchMember(workspaceId);
  const remove = useRemoveMember(workspaceId);
  const [removing, setRemoving] = useState<Member | null>(null);
  const roleList = useMemo(() => roles.data ?? [], [roles.data]);
  const roleLabel = useRoleLabel();
  const columns = useMemo((): ColumnDef<Member>[] => {
    const roleName = (key: string) => roleLabel(key, roleList.find((r) => r.key === key)?.name);
    const out: ColumnDef<Member>[] = [
      {
        id: 'user',
        meta: { label: t('workspaces.members.user'), sortKey: 'username', priority: 1, className: 'mono' },
        cell: ({ row: { original: m } }) => <span data-role={m.role}>{m.user.username}</span>,
      },
      {
        id: 'name',
        meta: { label: t('workspaces.members.name'), priority: 2 },
        cell: ({ row: { original: m } }) => m.user.name || t('common.none'),
      },
      {
        id: 'role',
        meta: { label: t('workspaces.members.role'), sortKey: 'role', priority: 1 },
        cell: ({ row: { original: m } }) =>
          canManage ? (
            <RoleSelect
              roles={roleList}
              value={m.role}
              testId={`member-role-${m.user.username}`}
              disabled={patch.isPending}
              onChange={(role) => patch.mutate({ member: m.id, role })}
            />
          ) : (
            <span className="badge" title={m.role}>
              {roleName(m.role)}
            </span>
          ),
      },
      {
        id: 'since',
        meta: { label: t('workspaces.members.since'), sortKey: 'created', priority: 3, className: 'nowrap' },
        cell: ({ row: { original: m } }) => formatDateTime(m.created) ?? '—',
      },
    ];
    if (canManage)
      out.push({
        id: 'actions',
        meta: { label: t('clusters.col.actions'), priority: 1, className: 'actions-col' },
        cell: ({ row: { original: m } }) => (
          <button type="button" className="btn btn-small btn-danger-outline" data-testid={`remove-member-${m.user.username}`} onClick={() => setRemoving(m)}>
            {t('workspaces.members.remove')}
          </button>
        ),
      });
    return out;
  }, [t, canManage, roleList, roleLabel, patch]);
  return (
    <>
      {canManage && <AddMember workspaceId={workspaceId} roles={roleList} />}
      {patch.error && (
        <div className="alert alert-error" role="alert" data-testid="members-error">
          {apiErrorText(t, patch.error)}
          <button type="button" className="btn btn-small" onClick={() => patch.reset()}>
            {t('common.dismiss')}
          </button>
        </div>
      )}
      <DataTable<Member>
        tableKey="workspace.members"
        label={t('lists.members')}
        columns={columns}
        rows={list.rows}
        getRowId={(m) => String(m.id)}
        ordering={ordering}
        onOrderingChange={setOrdering}
        {...pagingProps(list)}
        empty={<p className="muted empty-line">{t('workspaces.members.empty')}</p>}
        rowTestId={(m) => `member-row-${m.user.username}`}
        testId="members-table"
      />
      {removing && (
        <ConfirmDialog
          title={t('workspaces.members.removeTitle')}
          message={t('workspaces.members.removeBody', { user: removing.user.username })}
          confirmLabel={t('workspaces.members.remove')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() =>
            remove.mutate(removing.id, {
              onSuccess: () => setRemoving(null),
            })
          }
          onCancel={() => {
            remove.reset();
            setRemoving(null);
          }}
          submitTestId="confirm-remove-member"
        />
      )}
    </>
  );
}
