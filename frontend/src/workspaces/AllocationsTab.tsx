/**
 * A workspace's cluster allocations: per cluster the quota with what its service maps share and
 * use, and the allocation's state. Admins allocate clusters, change quotas (with "force" once
 * the API says the new quota is below current use) and remove allocations.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { useClusters, useInventory } from '../clusters/queries';
import { messageText } from '../lib/messages';
import { FormError, QuotaBars, QuotaFields, StateBadge, isUsageConflict } from './common';
import { QUOTA_KEYS, STORAGE_CLASS_SUFFIXES, cleanQuota, orderedKeys, storageClassKey } from './quantity';
import { useAllocate, useAllocations, usePatchAllocation, useRemoveAllocation } from './queries';
import type { Allocation } from './types';

function StorageClassPicker({ clusterId, value, onChange }: { clusterId: number | null; value: string[]; onChange: (next: string[]) => void }) {
  const { t } = useTranslation();
  const classes = useInventory<'StorageClass'>(clusterId ?? -1, 'storageclasses', {}, { enabled: clusterId !== null });
  const names = [...new Set([...(classes.data?.pages.flatMap((p) => p.results.map((r) => r.name)) ?? []), ...value])].sort();
  return (
    <fieldset className="checkbox-group" data-testid="storage-classes">
      <legend>{t('workspaces.allocation.storageClasses')}</legend>
      <p className="small muted">{t('workspaces.allocation.storageClassesHint')}</p>
      {clusterId !== null && classes.isPending && <Loading />}
      {names.length === 0 && !classes.isPending && <span className="muted small">{t('workspaces.allocation.noStorageClasses')}</span>}
      {names.map((name) => (
        <label key={name} className="checkbox">
          <input
            type="checkbox"
            name="storage_classes"
            value={name}
            data-testid={`storage-class-${name}`}
            checked={value.includes(name)}
            onChange={(e) => onChange(e.target.checked ? [...value, name] : value.filter((v) => v !== name))}
          />
          <span className="mono">{name}</span>
        </label>
      ))}
    </fieldset>
  );
}

function quotaKeysFor(storageClasses: string[], existing: Record<string, string>): string[] {
  const perClass = storageClasses.flatMap((c) => STORAGE_CLASS_SUFFIXES.map((s) => storageClassKey(c, s)));
  return [...new Set([...QUOTA_KEYS, ...perClass, ...orderedKeys(existing)])];
}

/** Create (no `allocation`) or edit an allocation. */
export function AllocationDialog({ workspaceId, allocation, onClose }: { workspaceId: number; allocation?: Allocation; onClose: () => void }) {
  const { t } = useTranslation();
  const allocate = useAllocate(workspaceId);
  const patch = usePatchAllocation(workspaceId);
  const mutation = allocation ? patch : allocate;
  const clusters = useClusters({ page_size: 200, ordering: 'name' }, { enabled: !allocation });
  const [cluster, setCluster] = useState<number | null>(allocation?.cluster.id ?? null);
  const [quota, setQuota] = useState<Record<string, string>>({ ...(allocation?.quota ?? {}) });
  const [storageClasses, setStorageClasses] = useState<string[]>(allocation?.storage_classes ?? []);
  const [force, setForce] = useState(false);
  const [warnings, setWarnings] = useState<string[] | null>(null);
  const error = mutation.error;
  const submit = () => {
    const body = { quota: cleanQuota(quota), storage_classes: storageClasses };
    if (allocation) {
      patch.mutate(
        { allocation: allocation.id, body: force ? { ...body, force: true } : body },
        { onSuccess: (row) => (row.warnings?.length ? setWarnings(row.warnings) : onClose()) },
      );
    } else if (cluster !== null) {
      allocate.mutate({ cluster, ...body }, { onSuccess: onClose });
    }
  };
  return (
    <Dialog
      title={allocation ? t('workspaces.allocation.editTitle', { cluster: allocation.cluster.name }) : t('workspaces.allocation.addTitle')}
      onClose={onClose}
      testId="allocation-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            {warnings ? t('common.close') : t('common.cancel')}
          </button>
          {!warnings && (
            <button
              type="submit"
              form="allocation-form"
              className="btn btn-primary"
              data-testid="allocation-submit"
              disabled={mutation.isPending || (!allocation && cluster === null)}
            >
              {mutation.isPending ? t('common.saving') : t('common.save')}
            </button>
          )}
        </>
      }
    >
      {warnings ? (
        <div className="alert alert-warning" data-testid="allocation-warnings">
          <div>
            <strong>{t('workspaces.allocation.savedOver')}</strong>
            <ul className="plain-list small">
              {warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          </div>
        </div>
      ) : (
        <form
          id="allocation-form"
          className="form-stack"
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <FormError error={error} fields={['cluster', 'quota', 'quota.*', 'storage_classes', 'force']} testId="allocation-error" />
          {!allocation && (
            <FormField label={t('workspaces.field.cluster')} errors={error?.forField('cluster') ?? []}>
              <select
                name="cluster"
                data-testid="allocation-cluster"
                value={cluster ?? ''}
                onChange={(e) => {
                  setCluster(e.target.value ? Number(e.target.value) : null);
                  setStorageClasses([]);
                }}
              >
                <option value="">{t('workspaces.allocation.pickCluster')}</option>
                {(clusters.data?.results ?? []).map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.display_name ? `${c.display_name} (${c.name})` : c.name}
                  </option>
                ))}
              </select>
            </FormField>
          )}
          <StorageClassPicker clusterId={cluster} value={storageClasses} onChange={setStorageClasses} />
          {(error?.forField('storage_classes') ?? []).map((m) => (
            <p key={m} className="field-errors" role="alert">
              {m}
            </p>
          ))}
          <QuotaFields keys={quotaKeysFor(storageClasses, quota)} value={quota} onChange={setQuota} error={error} />
          {allocation && isUsageConflict(error) && (
            <label className="checkbox" data-testid="force-row">
              <input type="checkbox" name="force" data-testid="allocation-force" checked={force} onChange={(e) => setForce(e.target.checked)} />
              {t('workspaces.quota.force')}
            </label>
          )}
        </form>
      )}
    </Dialog>
  );
}

function AllocationCard({ workspaceId, allocation, isAdmin }: { workspaceId: number; allocation: Allocation; isAdmin: boolean }) {
  const { t } = useTranslation();
  const remove = useRemoveAllocation(workspaceId);
  const [dialog, setDialog] = useState<'edit' | 'delete' | null>(null);
  const a = allocation;
  return (
    <article className="card allocation" data-testid={`allocation-${a.cluster.name}`} data-status={a.status}>
      <header className="tab-toolbar">
        <div>
          <h3 className="card-title">
            {a.cluster.display_name || a.cluster.name} <StateBadge status={a.status} message={messageText(t, a)} testId="allocation-status" />
          </h3>
          <p className="mono small muted">
            {a.cluster.name} · {t('workspaces.allocation.serviceMapCount', { count: a.service_map_count })}
            {a.storage_classes.length > 0 && ` · ${t('workspaces.allocation.onlyClasses', { classes: a.storage_classes.join(', ') })}`}
          </p>
        </div>
        {isAdmin && (
          <div className="row-actions">
            <button type="button" className="btn btn-small" data-testid="edit-allocation" onClick={() => setDialog('edit')}>
              {t('workspaces.allocation.edit')}
            </button>
            <button type="button" className="btn btn-small btn-danger-outline" data-testid="delete-allocation" onClick={() => setDialog('delete')}>
              {t('workspaces.allocation.delete')}
            </button>
          </div>
        )}
      </header>
      {a.message && (
        <p className={`alert ${a.status === 'error' ? 'alert-error' : 'alert-warning'}`} data-testid="allocation-message">
          {messageText(t, a)}
        </p>
      )}
      {a.warnings?.length > 0 && (
        <ul className="plain-list small warn-text" data-testid="allocation-warning-list">
          {a.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
      <p className="small muted">{t('workspaces.allocation.legend')}</p>
      <QuotaBars keys={orderedKeys(a.quota)} total={a.quota} used={a.used} shared={a.shared} testId="allocation-bars" />
      {dialog === 'edit' && <AllocationDialog workspaceId={workspaceId} allocation={a} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && (
        <ConfirmDialog
          title={t('workspaces.allocation.deleteTitle', { cluster: a.cluster.name })}
          message={t('workspaces.allocation.deleteBody', { cluster: a.cluster.name })}
          confirmLabel={t('workspaces.allocation.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() => remove.mutate(a.id, { onSuccess: () => setDialog(null) })}
          onCancel={() => setDialog(null)}
          submitTestId="confirm-delete-allocation"
        />
      )}
    </article>
  );
}

export function AllocationsTab({ workspaceId, isAdmin }: { workspaceId: number; isAdmin: boolean }) {
  const { t } = useTranslation();
  const allocations = useAllocations(workspaceId);
  const [adding, setAdding] = useState(false);
  return (
    <>
      <div className="tab-toolbar">
        <h2 className="card-title">{t('workspaces.allocation.title')}</h2>
        {isAdmin && (
          <button type="button" className="btn btn-primary btn-small" data-testid="add-allocation" onClick={() => setAdding(true)}>
            + {t('workspaces.allocation.addTitle')}
          </button>
        )}
      </div>
      {allocations.isPending && <Loading />}
      {allocations.isError && <ErrorState error={allocations.error} onRetry={() => void allocations.refetch()} />}
      {allocations.data?.length === 0 && (
        <p className="muted empty-line" data-testid="allocations-empty">
          {t('workspaces.allocation.empty')}
        </p>
      )}
      <div className="allocations" data-testid="allocations">
        {allocations.data?.map((a) => <AllocationCard key={a.id} workspaceId={workspaceId} allocation={a} isAdmin={isAdmin} />)}
      </div>
      {adding && <AllocationDialog workspaceId={workspaceId} onClose={() => setAdding(false)} />}
    </>
  );
}
