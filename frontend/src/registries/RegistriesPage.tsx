/**
 * /registries: every registry the caller sees (the built-in one and external ones) with its
 * kind, host, status and message, and the repository prefixes the caller holds there. System
 * admins add and edit registries (kind presets fill the host), rotate the password (write-only:
 * the row says only whether one is set), check one now, delete one (409 while build definitions
 * use it, or for the built-in one, shown by code) and allocate prefixes to workspaces.
 */
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { useMe } from '../auth/queries';
import { relativeTime, useNow } from '../clusters/format';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { DataTable, type ColumnDef } from '../components/table';
import { sortRows } from '../lists/keyset';
import { apiErrorText, messageText } from '../lib/messages';
import { FormError } from '../workspaces/common';
import { useWorkspaces } from '../workspaces/queries';
import { RegistryStatusBadge } from './common';
import { useAllocate, useCheckRegistry, useCreateRegistry, useDeallocate, useDeleteRegistry, usePatchRegistry, useRegistries } from './queries';
import type { Registry, RegistryBody, RegistryKind } from './types';

/** The kinds an admin may add, with the host their images live at (a placeholder when it varies). */
export const KIND_PRESETS: { kind: Exclude<RegistryKind, 'builtin'>; host: string; placeholder: string }[] = [
  { kind: 'dockerhub', host: 'docker.io', placeholder: 'docker.io' },
  { kind: 'ghcr', host: 'ghcr.io', placeholder: 'ghcr.io' },
  { kind: 'quay', host: 'quay.io', placeholder: 'quay.io' },
  { kind: 'harbor', host: '', placeholder: 'harbor.example.com' },
  { kind: 'ecr', host: '', placeholder: '123456789012.dkr.ecr.ap-northeast-2.amazonaws.com' },
  { kind: 'generic', host: '', placeholder: 'registry.example.com:5000' },
];
const presetHost = (kind: string) => KIND_PRESETS.find((p) => p.kind === kind)?.host ?? '';

function KindLabel({ kind }: { kind: RegistryKind }) {
  const { t } = useTranslation();
  return <>{t(`registries.kinds.${kind}`, { defaultValue: kind })}</>;
}

function RegistryDialog({ registry, onClose }: { registry: Registry | null; onClose: () => void }) {
  const { t } = useTranslation();
  const create = useCreateRegistry();
  const patch = usePatchRegistry();
  const mutation = registry ? patch : create;
  const editing = registry !== null;
  const builtin = registry?.builtin === true;
  const [form, setForm] = useState({
    name: registry?.name ?? '',
    kind: (registry?.kind ?? 'dockerhub') as RegistryKind,
    host: registry?.host ?? 'docker.io',
    username: registry?.username ?? '',
    password: '',
    ca_pem: '',
    plain_http: registry?.plain_http ?? false,
    allow_delete: registry?.allow_delete ?? true,
    description: registry?.description ?? '',
  });
  const set = (patchForm: Partial<typeof form>) => setForm((f) => ({ ...f, ...patchForm }));
  const err = (f: string) => mutation.error?.forField(f) ?? [];
  const placeholder = KIND_PRESETS.find((p) => p.kind === form.kind)?.placeholder ?? '';
  const submit = () => {
    // the built-in registry's connection comes from the server's settings: only these two change
    const body: RegistryBody = { allow_delete: form.allow_delete, description: form.description };
    if (!builtin) {
      body.kind = form.kind;
      body.host = form.host.trim();
      body.plain_http = form.plain_http;
      if (form.ca_pem.trim()) body.ca_pem = form.ca_pem;
    }
    if (!editing) {
      body.name = form.name.trim();
      body.username = form.username;
      if (form.password) body.password = form.password;
      create.mutate(body, { onSuccess: onClose });
    } else if (registry) {
      patch.mutate({ id: registry.id, body }, { onSuccess: onClose });
    }
  };
  return (
    <Dialog
      title={editing ? t('registries.edit', { name: registry?.name ?? '' }) : t('registries.add')}
      onClose={onClose}
      testId="registry-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={mutation.isPending}
          disabled={!form.name.trim() || (!builtin && !form.host.trim())}
          label={editing ? t('common.save') : t('registries.addSubmit')}
          testId="registry-submit"
          form="registry-form"
        />
      }
    >
      <form
        id="registry-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <FormError
          error={mutation.error}
          fields={['name', 'kind', 'host', 'username', 'password', 'ca_pem', 'plain_http', 'allow_delete', 'description']}
          testId="registry-error"
        />
        <FormField label={t('registries.name')} errors={err('name')}>
          <input name="name" className="mono" autoComplete="off" disabled={editing} value={form.name} onChange={(e) => set({ name: e.target.value })} />
        </FormField>
        {!builtin && (
          <FormField label={t('registries.kind')} errors={err('kind')}>
            <select
              name="kind"
              data-testid="registry-kind"
              value={form.kind}
              onChange={(e) => {
                const kind = e.target.value as RegistryKind;
                // a preset's host replaces the previous preset's (or nothing), never a typed one
                const typed = form.host.trim() !== '' && form.host !== presetHost(form.kind);
                set({ kind, host: typed ? form.host : presetHost(kind) });
              }}
            >
              {KIND_PRESETS.map((p) => (
                <option key={p.kind} value={p.kind}>
                  {t(`registries.kinds.${p.kind}`)}
                </option>
              ))}
            </select>
          </FormField>
        )}
        <FormField label={t('registries.host')} errors={err('host')}>
          <input
            name="host"
            className="mono"
            autoComplete="off"
            disabled={builtin}
            placeholder={placeholder}
            value={form.host}
            onChange={(e) => set({ host: e.target.value })}
          />
        </FormField>
        {!editing && (
          <div className="form-grid">
            <FormField label={t('registries.username')} errors={err('username')}>
              <input name="username" autoComplete="off" value={form.username} onChange={(e) => set({ username: e.target.value })} />
            </FormField>
            <FormField label={t('registries.password')} errors={err('password')}>
              <input name="password" type="password" autoComplete="new-password" value={form.password} onChange={(e) => set({ password: e.target.value })} />
            </FormField>
          </div>
        )}
        {editing && (
          <p className="small muted" data-testid="password-state">
            {registry?.has_password ? t('registries.passwordSet', { username: registry.username }) : t('registries.passwordNotSet')}{' '}
            {t('registries.rotateHint')}
          </p>
        )}
        {!builtin && (
          <FormField label={editing && registry?.has_ca ? t('registries.caPemReplace') : t('registries.caPem')} errors={err('ca_pem')}>
            <textarea name="ca_pem" className="mono" rows={3} placeholder="-----BEGIN CERTIFICATE-----" value={form.ca_pem} onChange={(e) => set({ ca_pem: e.target.value })} />
          </FormField>
        )}
        {!builtin && (
          <label className="checkbox">
            <input type="checkbox" name="plain_http" checked={form.plain_http} onChange={(e) => set({ plain_http: e.target.checked })} />
            {t('registries.plainHttp')}
          </label>
        )}
        {!builtin && form.plain_http && <p className="small warn-text">{t('registries.plainHttpHint')}</p>}
        <label className="checkbox">
          <input type="checkbox" name="allow_delete" checked={form.allow_delete} onChange={(e) => set({ allow_delete: e.target.checked })} />
          {t('registries.allowDelete')}
        </label>
        <FormField label={t('registries.description')} errors={err('description')}>
          <textarea name="description" rows={2} value={form.description} onChange={(e) => set({ description: e.target.value })} />
        </FormField>
      </form>
    </Dialog>
  );
}

function RotateDialog({ registry, onClose }: { registry: Registry; onClose: () => void }) {
  const { t } = useTranslation();
  const patch = usePatchRegistry();
  const [username, setUsername] = useState(registry.username);
  const [password, setPassword] = useState('');
  return (
    <Dialog
      title={t('registries.rotateTitle', { name: registry.name })}
      onClose={onClose}
      testId="rotate-dialog"
      footer={<DialogActions onCancel={onClose} pending={patch.isPending} disabled={!password} label={t('registries.rotate')} testId="rotate-submit" form="rotate-form" />}
    >
      <form
        id="rotate-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          patch.mutate({ id: registry.id, body: { username, password } }, { onSuccess: onClose });
        }}
      >
        <p className="small muted">{t('registries.rotateBody')}</p>
        <FormError error={patch.error} fields={['username', 'password']} testId="rotate-error" />
        <FormField label={t('registries.username')} errors={patch.error?.forField('username') ?? []}>
          <input name="username" autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} />
        </FormField>
        <FormField label={t('registries.newPassword')} errors={patch.error?.forField('password') ?? []}>
          <input name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </FormField>
      </form>
    </Dialog>
  );
}

function AllocationsDialog({ registry, onClose }: { registry: Registry; onClose: () => void }) {
  const { t } = useTranslation();
  const workspaces = useWorkspaces({ page_size: 500 });
  const allocate = useAllocate();
  const deallocate = useDeallocate();
  const [workspace, setWorkspace] = useState('');
  const [prefix, setPrefix] = useState('');
  const list = workspaces.data?.results ?? [];
  useEffect(() => {
    if (!workspace && list[0]) setWorkspace(String(list[0].id));
  }, [workspace, list]);
  const allocations = registry.allocations ?? [];
  return (
    <Dialog
      title={t('registries.allocations.title', { name: registry.name })}
      onClose={onClose}
      testId="allocations-dialog"
      footer={
        <button type="button" className="btn" onClick={onClose}>
          {t('common.close')}
        </button>
      }
    >
      <p className="small muted">{t('registries.allocations.intro', { host: registry.host })}</p>
      {allocations.length === 0 ? (
        <p className="muted small" data-testid="allocations-empty">
          {t('registries.allocations.empty')}
        </p>
      ) : (
        <table className="table table-dense" data-testid="allocations-table">
          <thead>
            <tr>
              <th scope="col">{t('registries.allocations.workspace')}</th>
              <th scope="col">{t('registries.allocations.prefix')}</th>
              <th scope="col" className="actions-col">
                <span className="visually-hidden">{t('registries.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {allocations.map((a) => (
              <tr key={a.id} data-testid={`allocation-row-${a.workspace.name}`}>
                <td>{a.workspace.name}</td>
                <td className="mono">{a.prefix ? `${registry.host}/${a.prefix}/…` : t('registries.allRepositories')}</td>
                <td>
                  <button
                    type="button"
                    className="btn btn-small btn-danger-outline"
                    data-testid={`remove-allocation-${a.workspace.name}`}
                    disabled={deallocate.isPending}
                    onClick={() => deallocate.mutate({ id: registry.id, allocation: a.id })}
                  >
                    {t('registries.allocations.remove')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deallocate.error && (
        <p className="alert alert-error" role="alert">
          {apiErrorText(t, deallocate.error)}
        </p>
      )}
      <form
        className="form-stack"
        data-testid="allocation-form"
        onSubmit={(e) => {
          e.preventDefault();
          allocate.mutate({ id: registry.id, body: { workspace: Number(workspace), prefix: prefix.trim() } }, { onSuccess: () => setPrefix('') });
        }}
      >
        <h3 className="card-title">{t('registries.allocations.add')}</h3>
        <FormError error={allocate.error} fields={['workspace', 'prefix']} testId="allocation-error" />
        <div className="form-grid">
          <FormField label={t('registries.allocations.workspace')} errors={allocate.error?.forField('workspace') ?? []}>
            <select name="workspace" data-testid="allocation-workspace" value={workspace} onChange={(e) => setWorkspace(e.target.value)}>
              {list.map((w) => (
                <option key={w.id} value={String(w.id)}>
                  {w.display_name ? `${w.display_name} (${w.name})` : w.name}
                </option>
              ))}
            </select>
          </FormField>
          <FormField label={t('registries.allocations.prefix')} errors={allocate.error?.forField('prefix') ?? []}>
            <input name="prefix" className="mono" autoComplete="off" placeholder="team-a" data-testid="allocation-prefix" value={prefix} onChange={(e) => setPrefix(e.target.value)} />
          </FormField>
        </div>
        <p className="small muted">{t('registries.allocations.prefixHint', { host: registry.host, prefix: prefix.trim() || 'team-a' })}</p>
        <div>
          <button type="submit" className="btn btn-primary" data-testid="allocation-submit" disabled={!workspace || allocate.isPending}>
            {allocate.isPending ? t('common.saving') : t('registries.allocations.addSubmit')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function Prefixes({ registry }: { registry: Registry }) {
  const { t } = useTranslation();
  if (registry.prefixes === null) return <span className="muted small">{t('registries.allRepositories')}</span>;
  if (registry.prefixes.length === 0) return <span className="muted small">{t('registries.noPrefixes')}</span>;
  return (
    <span className="chips" data-testid="registry-prefixes">
      {registry.prefixes.map((p) => (
        <span key={p} className="chip">
          {p ? `${p}/…` : t('registries.allRepositories')}
        </span>
      ))}
    </span>
  );
}

type Opened = { what: 'edit' | 'rotate' | 'allocations' | 'delete'; id: number } | null;

function RegistryActions({ registry, isAdmin, open, onChecked }: { registry: Registry; isAdmin: boolean; open: (o: Opened) => void; onChecked: () => void }) {
  const { t } = useTranslation();
  const check = useCheckRegistry();
  return (
    <>
      {isAdmin && (
        <div className="row-actions">
          <button type="button" className="btn btn-small" data-testid={`edit-registry-${registry.name}`} onClick={() => open({ what: 'edit', id: registry.id })}>
            {t('registries.editShort')}
          </button>
          {!registry.builtin && (
            <button type="button" className="btn btn-small" data-testid={`rotate-registry-${registry.name}`} onClick={() => open({ what: 'rotate', id: registry.id })}>
              {t('registries.rotate')}
            </button>
          )}
          <button type="button" className="btn btn-small" data-testid={`check-registry-${registry.name}`} disabled={check.isPending} onClick={() => check.mutate(registry.id, { onSuccess: onChecked })}>
            {t('registries.checkNow')}
          </button>
          <button type="button" className="btn btn-small" data-testid={`allocations-registry-${registry.name}`} onClick={() => open({ what: 'allocations', id: registry.id })}>
            {t('registries.allocations.button')}
          </button>
          {!registry.builtin && (
            <button type="button" className="btn btn-small btn-danger-outline" data-testid={`delete-registry-${registry.name}`} onClick={() => open({ what: 'delete', id: registry.id })}>
              {t('registries.delete')}
            </button>
          )}
        </div>
      )}
      {check.error && (
        <div className="small bad-text" role="alert">
          {apiErrorText(t, check.error)}
        </div>
      )}
    </>
  );
}

function RegistryStatusCell({ registry }: { registry: Registry }) {
  const { t, i18n } = useTranslation();
  const now = useNow();
  return (
    <>
      <RegistryStatusBadge status={registry.status} />
      {registry.message && (
        <div className={`small ${registry.status === 'error' ? 'bad-text' : 'muted'}`} data-testid="registry-message">
          {messageText(t, registry)}
        </div>
      )}
      <div className="small muted" title={registry.checked ?? undefined}>
        {registry.checked ? t('registries.checked', { when: relativeTime(registry.checked, now, i18n.language) ?? '' }) : t('registries.neverChecked')}
      </div>
    </>
  );
}

const REGISTRY_SORT: Record<string, (r: Registry) => string> = {
  name: (r) => r.name,
  kind: (r) => r.kind,
  host: (r) => r.host,
  status: (r) => r.status,
};

/** Registries on the console's DataTable; the API answers them all at once (there are few), so the sort is done here. */
function RegistriesTable({ rows, isAdmin, open, onChecked, empty }: { rows: Registry[]; isAdmin: boolean; open: (o: Opened) => void; onChecked: () => void; empty: ReactNode }) {
  const { t } = useTranslation();
  const [ordering, setOrdering] = useState<string | null>(null);
  const shown = useMemo(() => sortRows(rows, ordering, REGISTRY_SORT), [rows, ordering]);
  const columns = useMemo(
    (): ColumnDef<Registry>[] => [
      {
        id: 'name',
        meta: { label: t('registries.name'), sortKey: 'name', priority: 1 },
        cell: ({ row: { original: registry } }) => (
          <>
            <Link to={`/registries/${registry.id}`} className="mono" data-testid={`open-registry-${registry.name}`}>
              <strong>{registry.name}</strong>
            </Link>
            {registry.builtin && (
              <>
                {' '}
                <span className="badge tone-ok" data-testid="builtin-badge">
                  {t('registries.builtin')}
                </span>
              </>
            )}
            {registry.description && <div className="small muted">{registry.description}</div>}
          </>
        ),
      },
      { id: 'kind', meta: { label: t('registries.kind'), sortKey: 'kind', priority: 3 }, cell: ({ row: { original: registry } }) => <KindLabel kind={registry.kind} /> },
      {
        id: 'host',
        meta: { label: t('registries.host'), sortKey: 'host', priority: 2, className: 'mono small wrap-any' },
        cell: ({ row: { original: registry } }) => (
          <>
            {registry.host}
            {registry.plain_http && (
              <>
                {' '}
                <span className="badge tone-warn">{t('registries.plainHttpBadge')}</span>
              </>
            )}
          </>
        ),
      },
      {
        id: 'status',
        meta: { label: t('registries.statusTitle'), sortKey: 'status', priority: 1 },
        cell: ({ row: { original: registry } }) => <RegistryStatusCell registry={registry} />,
      },
      {
        id: 'prefixes',
        meta: { label: t('registries.prefixes'), priority: 2 },
        cell: ({ row: { original: registry } }) => (
          <>
            <Prefixes registry={registry} />
            {isAdmin && registry.allocations && (
              <div className="small muted" data-testid="allocation-count">
                {t('registries.allocationCount', { count: registry.allocations.length })}
              </div>
            )}
          </>
        ),
      },
      {
        id: 'actions',
        meta: { label: t('registries.actions'), priority: 1, className: 'actions-col' },
        cell: ({ row: { original: registry } }) => <RegistryActions registry={registry} isAdmin={isAdmin} open={open} onChecked={onChecked} />,
      },
    ],
    [t, isAdmin, open, onChecked],
  );
  return (
    <DataTable<Registry>
      tableKey="registries"
      label={t('registries.title', { defaultValue: t('registries.name') })}
      columns={columns}
      rows={shown}
      getRowId={(r) => String(r.id)}
      ordering={ordering}
      onOrderingChange={setOrdering}
      empty={empty}
      rowTestId={(r) => `registry-row-${r.name}`}
      testId="registries-table"
      maxHeight="none"
    />
  );
}

export function RegistriesPage() {
  const { t } = useTranslation();
  const me = useMe();
  const isAdmin = me.data?.is_admin === true;
  // a check runs as a task: while one is pending (a registry never checked, or "Check now" just
  // pressed) look again every 2 s; the task sets the status and the time of the check
  const [burst, setBurst] = useState(0);
  useEffect(() => {
    if (!burst) return;
    const timer = setTimeout(() => setBurst(0), 10_000);
    return () => clearTimeout(timer);
  }, [burst]);
  const [pending, setPending] = useState(false);
  const registries = useRegistries(pending || burst ? 2000 : false);
  const rows = registries.data ?? [];
  const unknown = rows.some((r) => r.status === 'unknown');
  useEffect(() => setPending(unknown), [unknown]);
  const [adding, setAdding] = useState(false);
  const [opened, setOpened] = useState<Opened>(null);
  const remove = useDeleteRegistry();
  const current = opened ? rows.find((r) => r.id === opened.id) : undefined;
  const onChecked = useCallback(() => setBurst(Date.now()), []);
  const close = () => {
    remove.reset();
    setOpened(null);
  };
  return (
    <section className="page page-wide" data-testid="registries-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('registries.title')}</h1>
          <p className="muted">{t('registries.intro')}</p>
        </div>
        <div className="header-actions registries-header-actions">
          <Link to="/registries/policy" className="btn" data-testid="open-policy">
            {t('registries.policy.title')}
          </Link>
          {isAdmin && (
            <button type="button" className="btn btn-primary" data-testid="add-registry" onClick={() => setAdding(true)}>
              + {t('registries.add')}
            </button>
          )}
        </div>
      </header>
      <section className="card">
        {registries.isPending && <Loading />}
        {registries.isError && <ErrorState error={registries.error} onRetry={() => void registries.refetch()} />}
        {registries.data && (
          <RegistriesTable
            rows={rows}
            isAdmin={isAdmin}
            open={setOpened}
            onChecked={onChecked}
            empty={
              <EmptyState title={t('registries.empty')} testId="registries-empty">
                <p className="muted">{isAdmin ? t('registries.emptyAdmin') : t('registries.emptyMember')}</p>
              </EmptyState>
            }
          />
        )}
      </section>
      {adding && <RegistryDialog registry={null} onClose={() => setAdding(false)} />}
      {current && opened?.what === 'edit' && <RegistryDialog registry={current} onClose={close} />}
      {current && opened?.what === 'rotate' && <RotateDialog registry={current} onClose={close} />}
      {current && opened?.what === 'allocations' && <AllocationsDialog registry={current} onClose={close} />}
      {current && opened?.what === 'delete' && (
        <ConfirmDialog
          title={t('registries.delete')}
          message={t('registries.deleteBody', { name: current.name })}
          confirmLabel={t('registries.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          submitTestId="confirm-delete-registry"
          onConfirm={() => remove.mutate(current.id, { onSuccess: close })}
          onCancel={close}
        />
      )}
    </section>
  );
}
