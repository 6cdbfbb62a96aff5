/**
 * /workspaces: the workspaces the user may see on the console's DataTable, with their counts and
 * the summed quota use for requests.cpu / requests.memory; the name search and the sort (by name
 * or age) ask the server (`?q=`, `?ordering=` in the URL), in keyset pages. Admins create
 * workspaces here.
 */
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router-dom';
import { useMe } from '../auth/queries';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { DataTable, useKeysetList, type ColumnDef, pagingProps } from '../components/table';
import { formatDateTime } from '../lib/format';
import { fetchKeysetPage, useUrlFilters, validOrdering } from '../lists/keyset';
import { SearchInput } from '../lists/SearchInput';
import { FormError, QuotaBar, useRoleLabel } from './common';
import { useCreateWorkspace, workspacesKey } from './queries';
import type { Workspace } from './types';
import { DialogActions } from '../components/DialogActions';

const TABLE = 'workspaces';
const SORT_KEYS = ['name', 'created'] as const;

const LIST_RESOURCES = ['requests.cpu', 'requests.memory'] as const;

function QuotaUseCell({ workspace, resource }: { workspace: Workspace; resource: string }) {
  const use = workspace.quota_use.find((u) => u.resource === resource);
  if (!use) return <span className="muted">—</span>;
  return <QuotaBar resource={resource} used={use.used} total={use.allocated} testId={`use-${resource}`} />;
}

export function CreateWorkspaceDialog({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const create = useCreateWorkspace();
  const [form, setForm] = useState({ name: '', display_name: '', description: '' });
  const set = (patch: Partial<typeof form>) => setForm((f) => ({ ...f, ...patch }));
  const err = (f: string) => create.error?.forField(f) ?? [];
  return (
    <Dialog
      title={t('workspaces.create.title')}
      onClose={onClose}
      testId="create-workspace-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={create.isPending}
          disabled={!form.name.trim()}
          label={t('workspaces.create.submit')}
          testId="create-workspace-submit"
          form="create-workspace-form"
        />
      }
    >
      <form
        id="create-workspace-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate(
            { name: form.name.trim(), display_name: form.display_name.trim(), description: form.description },
            { onSuccess: (ws) => navigate(`/workspaces/${ws.id}`) },
          );
        }}
      >
        <FormError error={create.error} fields={['name', 'display_name', 'description']} testId="workspace-error" />
        <FormField label={t('workspaces.field.name')} errors={err('name')}>
          <input name="name" className="mono" autoComplete="off" value={form.name} onChange={(e) => set({ name: e.target.value })} />
        </FormField>
        <p className="small muted">{t('workspaces.create.nameHint')}</p>
        <FormField label={t('workspaces.field.displayName')} errors={err('display_name')}>
          <input name="display_name" value={form.display_name} onChange={(e) => set({ display_name: e.target.value })} />
        </FormField>
        <FormField label={t('workspaces.field.description')} errors={err('description')}>
          <textarea name="description" rows={3} value={form.description} onChange={(e) => set({ description: e.target.value })} />
        </FormField>
      </form>
    </Dialog>
  );
}

function useWorkspaceColumns(): ColumnDef<Workspace>[] {
  const { t } = useTranslation();
  const roleLabel = useRoleLabel();
  return useMemo(
    () => [
      {
        id: 'name',
        meta: { label: t('workspaces.col.name'), sortKey: 'name', priority: 1 },
        cell: ({ row: { original: w } }) => (
          <>
            <Link to={`/workspaces/${w.id}`} data-testid="workspace-link">
              {w.display_name || w.name}
            </Link>
            <div className="mono small muted">{w.name}</div>
          </>
        ),
      },
      {
        id: 'myRole',
        meta: { label: t('workspaces.col.myRole'), priority: 2 },
        cell: ({ row: { original: w } }) =>
          w.my_role ? (
            <span className="badge" title={w.my_role}>
              {roleLabel(w.my_role)}
            </span>
          ) : (
            <span className="muted">—</span>
          ),
      },
      {
        id: 'clusters',
        meta: { label: t('workspaces.col.clusters'), align: 'end', priority: 3, cellTestId: 'cell-clusters' },
        cell: ({ row: { original: w } }) => w.cluster_count,
      },
      {
        id: 'members',
        meta: { label: t('workspaces.col.members'), align: 'end', priority: 3, cellTestId: 'cell-members' },
        cell: ({ row: { original: w } }) => w.member_count,
      },
      {
        id: 'serviceMaps',
        meta: { label: t('workspaces.col.serviceMaps'), align: 'end', priority: 2, cellTestId: 'cell-servicemaps' },
        cell: ({ row: { original: w } }) => w.service_map_count,
      },
      ...LIST_RESOURCES.map(
        (r): ColumnDef<Workspace> => ({
          id: r,
          meta: { label: r, priority: 2 },
          cell: ({ row: { original: w } }) => <QuotaUseCell workspace={w} resource={r} />,
        }),
      ),
      {
        id: 'created',
        meta: { label: t('lists.col.created'), sortKey: 'created', priority: 3, defaultHidden: true, className: 'small nowrap' },
        cell: ({ row: { original: w } }) => formatDateTime((w as Workspace & { created?: string }).created) ?? '—',
      },
    ],
    [t, roleLabel],
  );
}

export function WorkspacesPage() {
  const { t } = useTranslation();
  const me = useMe();
  const { params, set } = useUrlFilters();
  const q = params.get('q') ?? '';
  const ordering = validOrdering(params.get('ordering'), SORT_KEYS);
  const query = useMemo(() => ({ ...(q ? { q } : {}), ...(ordering ? { ordering } : {}) }), [q, ordering]);
  // Under the workspaces' list key: creating, changing and live events refetch it.
  const list = useKeysetList<Workspace>({
    queryKey: [...workspacesKey, 'list', 'keyset', query],
    fetchPage: (cursor) => fetchKeysetPage<Workspace>('/api/workspaces/', query, cursor),
  });
  const columns = useWorkspaceColumns();
  const [creating, setCreating] = useState(false);
  return (
    <section className="page page-wide" data-testid="workspaces-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('workspaces.title')}</h1>
          <p className="muted">{t('workspaces.intro')}</p>
        </div>
        {me.data?.is_admin && (
          <button type="button" className="btn btn-primary" data-testid="create-workspace" onClick={() => setCreating(true)}>
            + {t('workspaces.create.title')}
          </button>
        )}
      </header>
      <section className="card">
        <DataTable<Workspace>
          tableKey={TABLE}
          label={t('workspaces.title')}
          columns={columns}
          rows={list.rows}
          getRowId={(w) => String(w.id)}
          ordering={ordering}
          onOrderingChange={(o) => set('ordering', o ?? '')}
          {...pagingProps(list)}
          empty={
            <p className="muted empty-line" data-testid="workspaces-empty">
              {me.data?.is_admin ? t('workspaces.emptyAdmin') : t('workspaces.empty')}
            </p>
          }
          rowTestId={(w) => `workspace-row-${w.name}`}
          testId="workspaces-table"
          toolbar={
            <div className="filters" data-testid="workspaces-filters">
              <SearchInput name="q" label={t('workspaces.filter.search')} value={q} onCommit={(v) => set('q', v)} />
            </div>
          }
        />
      </section>
      {creating && <CreateWorkspaceDialog onClose={() => setCreating(false)} />}
    </section>
  );
}
