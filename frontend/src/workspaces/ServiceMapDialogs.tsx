/**
 * Creating a service map (cluster from the workspace's allocations, namespace, names and a share
 * of the allocation: each key shows what is left) and changing a share (with "force" once the
 * API answers 409 because the namespace uses more).
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { FormError, QuotaFields, isUsageConflict } from './common';
import { cleanQuota, orderedKeys } from './quantity';
import { useAllocations, useCreateServiceMap, usePatchServiceMap } from './queries';
import type { ServiceMap } from './types';
import { DialogActions } from '../components/DialogActions';

export function CreateServiceMapDialog({ workspaceId, onClose, onCreated }: { workspaceId: number; onClose: () => void; onCreated?: (sm: ServiceMap) => void }) {
  const { t } = useTranslation();
  const allocations = useAllocations(workspaceId);
  const create = useCreateServiceMap(workspaceId);
  const list = allocations.data ?? [];
  const [clusterId, setClusterId] = useState<number | null>(null);
  const cluster = clusterId ?? list[0]?.cluster.id ?? null;
  const allocation = list.find((a) => a.cluster.id === cluster);
  const [form, setForm] = useState({ namespace: '', display_name: '', description: '' });
  const [quota, setQuota] = useState<Record<string, string>>({});
  const set = (patch: Partial<typeof form>) => setForm((f) => ({ ...f, ...patch }));
  const err = (f: string) => create.error?.forField(f) ?? [];
  return (
    <Dialog
      title={t('workspaces.servicemap.createTitle')}
      onClose={onClose}
      testId="create-servicemap-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={create.isPending}
          disabled={cluster === null || !form.namespace.trim()}
          label={t('workspaces.servicemap.createSubmit')}
          testId="create-servicemap-submit"
          form="create-servicemap-form"
        />
      }
    >
      {allocations.isSuccess && list.length === 0 ? (
        <p className="alert alert-warning" data-testid="no-allocations">
          {t('workspaces.servicemap.noAllocations')}
        </p>
      ) : (
        <form
          id="create-servicemap-form"
          className="form-stack"
          onSubmit={(e) => {
            e.preventDefault();
            if (cluster === null) return;
            create.mutate(
              { cluster, namespace: form.namespace.trim(), display_name: form.display_name.trim(), description: form.description, quota: cleanQuota(quota) },
              {
                onSuccess: (sm) => {
                  onClose();
                  onCreated?.(sm);
                },
              },
            );
          }}
        >
          <FormError error={create.error} fields={['cluster', 'namespace', 'display_name', 'description', 'quota', 'quota.*']} testId="servicemap-error" />
          <FormField label={t('workspaces.field.cluster')} errors={err('cluster')}>
            <select
              name="cluster"
              data-testid="servicemap-cluster"
              value={cluster ?? ''}
              onChange={(e) => {
                setClusterId(Number(e.target.value));
                setQuota({});
              }}
            >
              {list.map((a) => (
                <option key={a.cluster.id} value={a.cluster.id}>
                  {a.cluster.display_name ? `${a.cluster.display_name} (${a.cluster.name})` : a.cluster.name}
                </option>
              ))}
            </select>
          </FormField>
          <FormField label={t('workspaces.field.namespace')} errors={err('namespace')}>
            <input name="namespace" className="mono" autoComplete="off" value={form.namespace} onChange={(e) => set({ namespace: e.target.value })} />
          </FormField>
          <FormField label={t('workspaces.field.displayName')} errors={err('display_name')}>
            <input name="display_name" value={form.display_name} onChange={(e) => set({ display_name: e.target.value })} />
          </FormField>
          <FormField label={t('workspaces.field.description')} errors={err('description')}>
            <textarea name="description" rows={2} value={form.description} onChange={(e) => set({ description: e.target.value })} />
          </FormField>
          {allocation && (
            <QuotaFields keys={orderedKeys(allocation.quota)} value={quota} onChange={setQuota} error={create.error} remaining={allocation.remaining} />
          )}
        </form>
      )}
    </Dialog>
  );
}

export function EditShareDialog({ serviceMap, onClose }: { serviceMap: ServiceMap; onClose: () => void }) {
  const { t } = useTranslation();
  const patch = usePatchServiceMap(serviceMap.workspace.id, serviceMap.id);
  const allocations = useAllocations(serviceMap.workspace.id);
  const allocation = allocations.data?.find((a) => a.cluster.id === serviceMap.cluster.id);
  const [form, setForm] = useState({ display_name: serviceMap.display_name, description: serviceMap.description });
  const [quota, setQuota] = useState<Record<string, string>>({ ...serviceMap.quota });
  const [force, setForce] = useState(false);
  // What this share may grow to: what is left in the allocation plus what it holds now.
  const keys = orderedKeys(allocation?.quota ?? {}, serviceMap.quota);
  const err = (f: string) => patch.error?.forField(f) ?? [];
  return (
    <Dialog
      title={t('workspaces.servicemap.editTitle', { name: serviceMap.namespace })}
      onClose={onClose}
      testId="edit-servicemap-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={patch.isPending}
          testId="edit-servicemap-submit"
          form="edit-servicemap-form"
        />
      }
    >
      <form
        id="edit-servicemap-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          const body = { ...form, quota: cleanQuota(quota) };
          patch.mutate(force ? { ...body, force: true } : body, { onSuccess: onClose });
        }}
      >
        <FormError error={patch.error} fields={['display_name', 'description', 'quota', 'quota.*', 'force']} testId="servicemap-error" />
        <FormField label={t('workspaces.field.displayName')} errors={err('display_name')}>
          <input name="display_name" value={form.display_name} onChange={(e) => setForm((f) => ({ ...f, display_name: e.target.value }))} />
        </FormField>
        <FormField label={t('workspaces.field.description')} errors={err('description')}>
          <textarea name="description" rows={2} value={form.description} onChange={(e) => setForm((f) => ({ ...f, description: e.target.value }))} />
        </FormField>
        <QuotaFields keys={keys} value={quota} onChange={setQuota} error={patch.error} remaining={allocation?.remaining} />
        {isUsageConflict(patch.error) && (
          <label className="checkbox" data-testid="force-row">
            <input type="checkbox" name="force" data-testid="servicemap-force" checked={force} onChange={(e) => setForce(e.target.checked)} />
            {t('workspaces.quota.force')}
          </label>
        )}
      </form>
    </Dialog>
  );
}
