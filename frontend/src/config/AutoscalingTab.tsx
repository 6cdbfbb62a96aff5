/**
 * The service map's `autoscaling` tab: its Deployments and StatefulSets with their current
 * HorizontalPodAutoscaler (both from the clusters read model: `/api/clusters/<c>/workloads/` and
 * `/hpas/?namespace=`), and with grant `workloads.scale` a dialog that sets min/max replicas and
 * CPU/memory utilisation targets (`PUT /api/catalog/autoscalers/<sm>/<kind>/<name>/`, errors at
 * their fields) or removes the autoscaler (`DELETE`). What the server answered shows at once;
 * the read model catches up when the watcher sees the HPA.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { clustersApi } from '../clusters/api';
import type { WorkloadData } from '../clusters/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { ApiAlert, fieldErrors } from './common';
import { usePageAccess, useRemoveAutoscaler, useSetAutoscaler } from './queries';
import type { AutoscalerBody, AutoscalerRow, HpaData } from './types';
import './config.css';
import { DialogActions } from '../components/DialogActions';

const SCALABLE = ['Deployment', 'StatefulSet'];

/** An HPA of the read model as the settings the dialog edits. */
export function hpaSettings(kind: string, name: string, data: HpaData): AutoscalerRow {
  const target = (resource: string) =>
    data.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === resource)?.resource?.target?.averageUtilization ?? null;
  return {
    kind,
    name,
    min_replicas: data.min_replicas ?? 1,
    max_replicas: data.max_replicas ?? 1,
    cpu_percent: target('cpu'),
    memory_percent: target('memory'),
  };
}

const numberOrNull = (text: string): number | null => (text.trim() === '' ? null : Number(text));

function AutoscalerDialog({ smId, kind, name, current, onClose, onSaved }: {
  smId: number;
  kind: string;
  name: string;
  current: AutoscalerRow | null;
  onClose: () => void;
  onSaved: (row: AutoscalerRow) => void;
}) {
  const { t } = useTranslation();
  const [form, setForm] = useState({
    min_replicas: String(current?.min_replicas ?? 1),
    max_replicas: String(current?.max_replicas ?? 3),
    cpu_percent: current ? (current.cpu_percent === null ? '' : String(current.cpu_percent)) : '80',
    memory_percent: current?.memory_percent === null || current?.memory_percent === undefined ? '' : String(current.memory_percent),
  });
  const save = useSetAutoscaler(smId);
  const fields = ['min_replicas', 'max_replicas', 'cpu_percent', 'memory_percent'] as const;
  const submit = () => {
    const body: AutoscalerBody = {
      min_replicas: numberOrNull(form.min_replicas) ?? 1,
      max_replicas: numberOrNull(form.max_replicas) ?? 0,
      cpu_percent: numberOrNull(form.cpu_percent),
      memory_percent: numberOrNull(form.memory_percent),
    };
    save.mutate({ kind, name, body }, { onSuccess: onSaved });
  };
  return (
    <Dialog
      title={t('config.autoscaling.dialogTitle', { kind, name })}
      onClose={onClose}
      testId="autoscaler-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={save.isPending}
          testId="autoscaler-submit"
          onSubmit={submit}
        />
      }
    >
      <form
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <ApiAlert error={save.error} testId="autoscaler-error" skipFields={[...fields]} />
        <div className="form-row">
          {fields.map((f) => (
            <FormField key={f} label={t(`config.autoscaling.${f}`)} errors={fieldErrors(save.error, f)}>
              <input
                name={f}
                type="number"
                min={f.endsWith('percent') ? 1 : 0}
                inputMode="numeric"
                data-testid={`autoscaler-${f}`}
                value={form[f]}
                placeholder={f.endsWith('percent') ? t('config.autoscaling.off') : undefined}
                onChange={(e) => setForm({ ...form, [f]: e.target.value })}
              />
            </FormField>
          ))}
        </div>
        <p className="small muted">{t('config.autoscaling.hint')}</p>
      </form>
    </Dialog>
  );
}

function Targets({ row }: { row: AutoscalerRow }) {
  const { t } = useTranslation();
  const parts = [
    row.cpu_percent !== null ? t('config.autoscaling.cpuTarget', { percent: row.cpu_percent }) : null,
    row.memory_percent !== null ? t('config.autoscaling.memoryTarget', { percent: row.memory_percent }) : null,
  ].filter(Boolean);
  return (
    <span data-testid="autoscaler-settings">
      {row.min_replicas}–{row.max_replicas} {parts.length > 0 && <span className="small muted">({parts.join(', ')})</span>}
    </span>
  );
}

export function AutoscalingTab({ clusterId, namespace, serviceMapId }: { clusterId: number; namespace: string; serviceMapId: number }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const access = usePageAccess();
  const canScale = access.can('workloads.scale');
  const query = { namespace, page_size: 500 };
  const workloads = useQuery({
    queryKey: ['config', serviceMapId, 'workloads', clusterId, namespace],
    queryFn: ({ signal }) => clustersApi.inventory<WorkloadData>(clusterId, 'workloads', query, signal),
    refetchInterval: 15_000,
  });
  const hpas = useQuery({
    queryKey: ['config', serviceMapId, 'hpas', clusterId, namespace],
    queryFn: ({ signal }) => clustersApi.inventory<HpaData>(clusterId, 'hpas', query, signal),
    refetchInterval: 15_000,
  });
  // The server's answers until the read model shows them: a row, or null once removed.
  const [overrides, setOverrides] = useState<Record<string, AutoscalerRow | null>>({});
  const [editing, setEditing] = useState<{ kind: string; name: string } | null>(null);
  const [removing, setRemoving] = useState<{ kind: string; name: string } | null>(null);
  const remove = useRemoveAutoscaler(serviceMapId);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['config', serviceMapId, 'hpas'] });

  const fromModel: Record<string, AutoscalerRow> = {};
  for (const h of hpas.data?.results ?? []) {
    const target = h.data.target;
    if (target?.kind && target.name) fromModel[`${target.kind}/${target.name}`] = hpaSettings(target.kind, target.name, h.data);
  }
  const current = (key: string): AutoscalerRow | null => (key in overrides ? (overrides[key] ?? null) : (fromModel[key] ?? null));
  const rows = (workloads.data?.results ?? []).filter((w) => SCALABLE.includes(w.kind));
  return (
    <div data-testid="autoscaling-tab">
      <p className="muted small">{t('config.autoscaling.intro')}</p>
      {(workloads.isPending || hpas.isPending) && <Loading />}
      <ApiAlert error={workloads.error ?? hpas.error} testId="autoscaling-load-error" />
      {workloads.data && rows.length === 0 && (
        <p className="muted" data-testid="autoscaling-empty">
          {t('config.autoscaling.empty')}
        </p>
      )}
      {rows.length > 0 && (
        <table className="table table-dense" data-testid="autoscaling-table">
          <thead>
            <tr>
              <th scope="col">{t('clusters.col.kind')}</th>
              <th scope="col">{t('clusters.col.name')}</th>
              <th scope="col" className="num">{t('clusters.col.replicas')}</th>
              <th scope="col">{t('config.autoscaling.autoscaler')}</th>
              <th scope="col" className="actions-col">
                <span className="visually-hidden">{t('catalog.sources.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((w) => {
              const key = `${w.kind}/${w.name}`;
              const hpa = current(key);
              const id = `${w.kind}-${w.name}`;
              return (
                <tr key={key} data-testid={`autoscaler-row-${id}`} data-hpa={String(hpa !== null)}>
                  <td>{w.kind}</td>
                  <td className="mono">{w.name}</td>
                  <td className="num">
                    {w.data.ready_replicas ?? 0}/{w.data.replicas ?? 0}
                  </td>
                  <td>{hpa ? <Targets row={hpa} /> : <span className="muted small">{t('config.autoscaling.none')}</span>}</td>
                  <td className="nowrap">
                    {canScale && (
                      <>
                        <button type="button" className="btn btn-small" data-testid={`edit-autoscaler-${id}`} onClick={() => setEditing({ kind: w.kind, name: w.name })}>
                          {hpa ? t('config.autoscaling.edit') : t('config.autoscaling.add')}
                        </button>{' '}
                        {hpa && (
                          <button
                            type="button"
                            className="btn btn-small btn-danger-outline"
                            data-testid={`remove-autoscaler-${id}`}
                            onClick={() => setRemoving({ kind: w.kind, name: w.name })}
                          >
                            {t('config.autoscaling.remove')}
                          </button>
                        )}
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {editing && (
        <AutoscalerDialog
          smId={serviceMapId}
          kind={editing.kind}
          name={editing.name}
          current={current(`${editing.kind}/${editing.name}`)}
          onClose={() => setEditing(null)}
          onSaved={(row) => {
            setOverrides((o) => ({ ...o, [`${editing.kind}/${editing.name}`]: row }));
            setEditing(null);
            refresh();
          }}
        />
      )}
      {removing && (
        <ConfirmDialog
          title={t('config.autoscaling.remove')}
          message={t('config.autoscaling.removeBody', { kind: removing.kind, name: removing.name })}
          confirmLabel={t('config.autoscaling.remove')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          submitTestId="confirm-remove-autoscaler"
          onConfirm={() =>
            remove.mutate(removing, {
              onSuccess: () => {
                setOverrides((o) => ({ ...o, [`${removing.kind}/${removing.name}`]: null }));
                setRemoving(null);
                refresh();
              },
            })
          }
          onCancel={() => {
            remove.reset();
            setRemoving(null);
          }}
        />
      )}
    </div>
  );
}
