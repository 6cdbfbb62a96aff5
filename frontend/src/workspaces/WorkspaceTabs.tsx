/** The smaller tabs of a workspace: its service maps, registries (members read, admins change) and settings. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router-dom';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { TypeToConfirmDialog } from '../components/TypeToConfirmDialog';
import { formatDateTime } from '../lib/format';
import { FormError } from './common';
import { CreateServiceMapDialog } from './ServiceMapDialogs';
import { ServiceMapTable, serviceMapPath } from './ServiceMapTable';
import { useAddRegistry, useDeleteWorkspace, usePatchWorkspace, useRegistries, useRemoveRegistry, useServiceMaps } from './queries';
import type { RegistryAllocation, Workspace } from './types';

export function ServiceMapsTab({ workspaceId, canManage }: { workspaceId: number; canManage: boolean }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const maps = useServiceMaps(workspaceId);
  const [creating, setCreating] = useState(false);
  const rows = maps.data?.results ?? [];
  return (
    <>
      <div className="tab-toolbar">
        <h2 className="card-title">{t('nav.servicemaps')}</h2>
        {canManage && (
          <button type="button" className="btn btn-primary btn-small" data-testid="create-servicemap" onClick={() => setCreating(true)}>
            + {t('workspaces.servicemap.createTitle')}
          </button>
        )}
      </div>
      {maps.isPending && <Loading />}
      {maps.isError && <ErrorState error={maps.error} onRetry={() => void maps.refetch()} />}
      {maps.data && rows.length === 0 && (
        <p className="muted empty-line" data-testid="servicemaps-empty">
          {t('workspaces.servicemap.empty')}
        </p>
      )}
      {rows.length > 0 && <ServiceMapTable rows={rows} />}
      {creating && <CreateServiceMapDialog workspaceId={workspaceId} onClose={() => setCreating(false)} onCreated={(sm) => navigate(serviceMapPath(sm))} />}
    </>
  );
}

export function RegistriesTab({ workspaceId, isAdmin }: { workspaceId: number; isAdmin: boolean }) {
  const { t } = useTranslation();
  const registries = useRegistries(workspaceId);
  const add = useAddRegistry(workspaceId);
  const remove = useRemoveRegistry(workspaceId);
  const [form, setForm] = useState({ registry: '', description: '' });
  const [removing, setRemoving] = useState<RegistryAllocation | null>(null);
  return (
    <>
      <h2 className="card-title">{t('workspaces.registries.title')}</h2>
      <p className="small muted">{t('workspaces.registries.intro')}</p>
      {isAdmin && (
        <form
          className="filters"
          data-testid="add-registry-form"
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate({ registry: form.registry.trim(), description: form.description }, { onSuccess: () => setForm({ registry: '', description: '' }) });
          }}
        >
          <div className="field-grow">
            <FormField label={t('workspaces.registries.registry')} errors={add.error?.forField('registry') ?? []}>
              <input
                name="registry"
                className="mono"
                placeholder="registry.example.com:5000/team-a"
                value={form.registry}
                onChange={(e) => setForm((f) => ({ ...f, registry: e.target.value }))}
              />
            </FormField>
          </div>
          <FormField label={t('workspaces.field.description')} errors={add.error?.forField('description') ?? []}>
            <input name="description" value={form.description} onChange={(e) => setForm((f) => ({ ...f, description: e.target.value }))} />
          </FormField>
          <div className="filter-buttons">
            <button type="submit" className="btn btn-primary" data-testid="add-registry-submit" disabled={add.isPending || !form.registry.trim()}>
              {t('workspaces.registries.add')}
            </button>
          </div>
        </form>
      )}
      <FormError error={add.error} fields={['registry', 'description']} testId="registry-error" />
      {registries.isPending && <Loading />}
      {registries.isError && <ErrorState error={registries.error} onRetry={() => void registries.refetch()} />}
      {registries.data?.length === 0 && <p className="muted empty-line">{t('workspaces.registries.empty')}</p>}
      {(registries.data?.length ?? 0) > 0 && (
        <table className="table table-dense" data-testid="registries-table">
          <thead>
            <tr>
              <th scope="col">{t('workspaces.registries.registry')}</th>
              <th scope="col">{t('workspaces.field.description')}</th>
              <th scope="col">{t('workspaces.members.since')}</th>
              {isAdmin && (
                <th scope="col" className="actions-col">
                  {t('clusters.col.actions')}
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {registries.data!.map((r) => (
              <tr key={r.id} data-testid={`registry-row-${r.registry}`}>
                <td className="mono">{r.registry}</td>
                <td>{r.description || t('common.none')}</td>
                <td className="nowrap">{formatDateTime(r.created) ?? '—'}</td>
                {isAdmin && (
                  <td className="actions-col">
                    <button type="button" className="btn btn-small btn-danger-outline" data-testid={`remove-registry-${r.id}`} onClick={() => setRemoving(r)}>
                      {t('workspaces.registries.remove')}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {removing && (
        <ConfirmDialog
          title={t('workspaces.registries.remove')}
          message={t('workspaces.registries.removeBody', { registry: removing.registry })}
          confirmLabel={t('workspaces.registries.remove')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() => remove.mutate(removing.id, { onSuccess: () => setRemoving(null) })}
          onCancel={() => setRemoving(null)}
        />
      )}
    </>
  );
}

export function SettingsTab({ workspace, isAdmin }: { workspace: Workspace; isAdmin: boolean }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const patch = usePatchWorkspace(workspace.id);
  const remove = useDeleteWorkspace(workspace.id);
  const [form, setForm] = useState({ display_name: workspace.display_name, description: workspace.description });
  const [deleting, setDeleting] = useState(false);
  return (
    <>
      <h2 className="card-title">{t('workspaces.settings.title')}</h2>
      <form
        className="form-stack narrow"
        data-testid="workspace-settings-form"
        onSubmit={(e) => {
          e.preventDefault();
          patch.mutate(form);
        }}
      >
        <FormError error={patch.error} fields={['display_name', 'description']} testId="settings-error" />
        {patch.isSuccess && (
          <p className="alert alert-success" role="status" data-testid="settings-saved">
            {t('workspaces.settings.saved')}
          </p>
        )}
        <FormField label={t('workspaces.field.displayName')} errors={patch.error?.forField('display_name') ?? []}>
          <input name="display_name" disabled={!isAdmin} value={form.display_name} onChange={(e) => setForm((f) => ({ ...f, display_name: e.target.value }))} />
        </FormField>
        <FormField label={t('workspaces.field.description')} errors={patch.error?.forField('description') ?? []}>
          <textarea
            name="description"
            rows={3}
            disabled={!isAdmin}
            value={form.description}
            onChange={(e) => setForm((f) => ({ ...f, description: e.target.value }))}
          />
        </FormField>
        {isAdmin && (
          <div>
            <button type="submit" className="btn btn-primary" data-testid="settings-save" disabled={patch.isPending}>
              {patch.isPending ? t('common.saving') : t('common.save')}
            </button>
          </div>
        )}
      </form>
      {isAdmin && (
        <section className="danger-zone">
          <h3>{t('workspaces.settings.dangerZone')}</h3>
          <p className="small muted">{t('workspaces.settings.deleteHint')}</p>
          <button type="button" className="btn btn-danger" data-testid="delete-workspace" onClick={() => setDeleting(true)}>
            {t('workspaces.settings.delete')}
          </button>
        </section>
      )}
      {deleting && (
        <TypeToConfirmDialog
          title={t('workspaces.settings.delete')}
          message={t('workspaces.settings.deleteBody', { name: workspace.name })}
          expected={workspace.name}
          confirmLabel={t('workspaces.settings.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() => remove.mutate(undefined, { onSuccess: () => navigate('/workspaces') })}
          onCancel={() => setDeleting(false)}
        />
      )}
    </>
  );
}
