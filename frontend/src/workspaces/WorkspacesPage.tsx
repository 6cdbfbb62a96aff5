/**
 * /workspaces: the workspaces the user may see, with their counts and the summed quota use for
 * requests.cpu / requests.memory. Admins create workspaces here.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { useMe } from '../auth/queries';
import { Dialog } from '../components/Dialog';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { DebouncedInput } from '../clusters/tabs/SimpleTabs';
import { FormError, QuotaBar, useRoleLabel } from './common';
import { useCreateWorkspace, useWorkspaces } from './queries';
import type { Workspace } from './types';
import { DialogActions } from '../components/DialogActions';

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

export function WorkspacesPage() {
  const { t } = useTranslation();
  const roleLabel = useRoleLabel();
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const workspaces = useWorkspaces(q ? { q } : {});
  const [creating, setCreating] = useState(false);
  const rows = workspaces.data?.results ?? [];
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
      <div className="filters" data-testid="workspaces-filters">
        <DebouncedInput
          name="q"
          label={t('workspaces.filter.search')}
          value={q}
          onCommit={(v) => setParams(v ? { q: v } : {}, { replace: true })}
        />
      </div>
      <section className="card">
        {workspaces.isPending && <Loading />}
        {workspaces.isError && <ErrorState error={workspaces.error} onRetry={() => void workspaces.refetch()} />}
        {workspaces.data && rows.length === 0 && (
          <p className="muted empty-line" data-testid="workspaces-empty">
            {me.data?.is_admin ? t('workspaces.emptyAdmin') : t('workspaces.empty')}
          </p>
        )}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense" data-testid="workspaces-table">
              <thead>
                <tr>
                  <th scope="col">{t('workspaces.col.name')}</th>
                  <th scope="col">{t('workspaces.col.myRole')}</th>
                  <th scope="col" className="num">
                    {t('workspaces.col.clusters')}
                  </th>
                  <th scope="col" className="num">
                    {t('workspaces.col.members')}
                  </th>
                  <th scope="col" className="num">
                    {t('workspaces.col.serviceMaps')}
                  </th>
                  {LIST_RESOURCES.map((r) => (
                    <th key={r} scope="col">
                      {r}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((w) => (
                  <tr key={w.id} data-testid={`workspace-row-${w.name}`}>
                    <td>
                      <Link to={`/workspaces/${w.id}`} data-testid="workspace-link">
                        {w.display_name || w.name}
                      </Link>
                      <div className="mono small muted">{w.name}</div>
                    </td>
                    <td>{w.my_role ? <span className="badge" title={w.my_role}>{roleLabel(w.my_role)}</span> : <span className="muted">—</span>}</td>
                    <td className="num" data-testid="cell-clusters">
                      {w.cluster_count}
                    </td>
                    <td className="num" data-testid="cell-members">
                      {w.member_count}
                    </td>
                    <td className="num" data-testid="cell-servicemaps">
                      {w.service_map_count}
                    </td>
                    {LIST_RESOURCES.map((r) => (
                      <td key={r}>
                        <QuotaUseCell workspace={w} resource={r} />
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {creating && <CreateWorkspaceDialog onClose={() => setCreating(false)} />}
    </section>
  );
}
