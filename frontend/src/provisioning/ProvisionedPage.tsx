/**
 * /provisioning/clusters/:id — one provisioned cluster: where it came from, its live progress
 * (control plane, machines, nodes, per machine phase/node/version/drain/failure reason), node
 * pools (scale, add, delete, change machine size), the Kubernetes upgrade, deletion with
 * type-to-confirm, and its operations. Live from `provisioning.<id>`.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { TypeToConfirmDialog } from '../components/TypeToConfirmDialog';
import { apiErrorText, messageText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { MachinesTable, OperationBadge, ProgressSummary, ProviderName, ProvisionedPhaseBadge, When } from './common';
import { useProvisionedLive } from './live';
import { useAddPool, useChangePool, useDeletePool, useDeleteProvisioned, usePools, useProvisioned, useProvisioningAccess, useUpgrade } from './queries';
import type { Operation, Pool, PoolSummary, ProvisionedDetail } from './types';

const LIVE_PHASES = new Set(['deleted']);

function errorsOf(error: unknown, field: string): string[] {
  return error instanceof ApiError ? error.forField(field) : [];
}

function ErrorLine({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  const { t } = useTranslation();
  if (!error) return null;
  if (error instanceof ApiError && fields.some((f) => error.forField(f).length > 0)) return null;
  return (
    <p className="alert alert-error" role="alert">
      {apiErrorText(t, error)}
    </p>
  );
}

function ScaleDialog({ id, pool, onClose }: { id: number; pool: PoolSummary; onClose: () => void }) {
  const { t } = useTranslation();
  const change = useChangePool(id);
  const [replicas, setReplicas] = useState(String(pool.replicas));
  const n = Number(replicas);
  return (
    <Dialog
      title={t('provisioning.pool.scaleTitle', { pool: pool.name })}
      onClose={onClose}
      testId="scale-pool-dialog"
      footer={<DialogActions onCancel={onClose} pending={change.isPending} disabled={replicas === '' || !Number.isInteger(n)} label={t('provisioning.pool.scaleSubmit')} testId="scale-pool-submit" form="scale-pool-form" />}
    >
      <form
        id="scale-pool-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          change.mutate({ pool: pool.name, body: { replicas: n } }, { onSuccess: onClose });
        }}
      >
        <FormField label={t('provisioning.pool.replicas')} errors={errorsOf(change.error, 'replicas')}>
          <input type="number" name="replicas" min={0} step={1} data-testid="scale-pool-replicas" value={replicas} onChange={(e) => setReplicas(e.target.value)} />
        </FormField>
        <p className="small muted">{t('provisioning.pool.scaleHelp')}</p>
        <ErrorLine error={change.error} fields={['replicas']} />
      </form>
    </Dialog>
  );
}

function ResizeDialog({ id, pool, sizes, onClose }: { id: number; pool: Pool | PoolSummary; sizes: string[]; onClose: () => void }) {
  const { t } = useTranslation();
  const change = useChangePool(id);
  const [size, setSize] = useState('machine_size' in pool ? pool.machine_size : (sizes[0] ?? ''));
  return (
    <Dialog
      title={t('provisioning.pool.resizeTitle', { pool: pool.name })}
      onClose={onClose}
      testId="resize-pool-dialog"
      footer={<DialogActions onCancel={onClose} pending={change.isPending} disabled={!size} testId="resize-pool-submit" form="resize-pool-form" />}
    >
      <form
        id="resize-pool-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          change.mutate({ pool: pool.name, body: { machine_size: size } }, { onSuccess: onClose });
        }}
      >
        <FormField label={t('provisioning.pool.size')} errors={errorsOf(change.error, 'machine_size')}>
          <select name="machine_size" data-testid="resize-pool-size" value={size} onChange={(e) => setSize(e.target.value)}>
            {sizes.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </FormField>
        <p className="small muted">{t('provisioning.pool.resizeHelp')}</p>
        <ErrorLine error={change.error} fields={['machine_size']} />
      </form>
    </Dialog>
  );
}

function AddPoolDialog({ id, sizes, onClose }: { id: number; sizes: string[]; onClose: () => void }) {
  const { t } = useTranslation();
  const add = useAddPool(id);
  const [name, setName] = useState('');
  const [replicas, setReplicas] = useState('1');
  const [size, setSize] = useState(sizes[0] ?? '');
  return (
    <Dialog
      title={t('provisioning.pool.addTitle')}
      onClose={onClose}
      testId="add-pool-dialog"
      footer={<DialogActions onCancel={onClose} pending={add.isPending} disabled={!name.trim() || !size || replicas === ''} testId="add-pool-submit" form="add-pool-form" />}
    >
      <form
        id="add-pool-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          add.mutate({ name: name.trim(), replicas: Number(replicas), machine_size: size }, { onSuccess: onClose });
        }}
      >
        <FormField label={t('provisioning.pool.name')} errors={errorsOf(add.error, 'name')}>
          <input name="name" className="mono" autoComplete="off" data-testid="add-pool-name" value={name} onChange={(e) => setName(e.target.value)} />
        </FormField>
        <FormField label={t('provisioning.pool.replicas')} errors={errorsOf(add.error, 'replicas')}>
          <input type="number" name="replicas" min={0} step={1} data-testid="add-pool-replicas" value={replicas} onChange={(e) => setReplicas(e.target.value)} />
        </FormField>
        <FormField label={t('provisioning.pool.size')} errors={errorsOf(add.error, 'machine_size')}>
          <select name="machine_size" data-testid="add-pool-size" value={size} onChange={(e) => setSize(e.target.value)}>
            {sizes.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </FormField>
        <ErrorLine error={add.error} fields={['name', 'replicas', 'machine_size']} />
      </form>
    </Dialog>
  );
}

function UpgradeDialog({ pc, onClose }: { pc: ProvisionedDetail; onClose: () => void }) {
  const { t } = useTranslation();
  const upgrade = useUpgrade(pc.id);
  const [version, setVersion] = useState(pc.upgrade_versions[0] ?? '');
  return (
    <Dialog
      title={t('provisioning.upgrade.title', { name: pc.name })}
      onClose={onClose}
      testId="upgrade-dialog"
      footer={<DialogActions onCancel={onClose} pending={upgrade.isPending} disabled={!version} label={t('provisioning.upgrade.submit')} testId="upgrade-submit" form="upgrade-form" />}
    >
      <form
        id="upgrade-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          upgrade.mutate(version, { onSuccess: onClose });
        }}
      >
        <p>{t('provisioning.upgrade.current', { version: pc.progress.control_plane?.version || pc.kubernetes_version || '—' })}</p>
        {pc.upgrade_versions.length === 0 ? (
          <p className="muted" data-testid="upgrade-none">
            {t('provisioning.upgrade.none')}
          </p>
        ) : (
          <FormField label={t('provisioning.upgrade.version')} errors={errorsOf(upgrade.error, 'version')}>
            <select name="version" data-testid="upgrade-version" value={version} onChange={(e) => setVersion(e.target.value)}>
              {pc.upgrade_versions.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </FormField>
        )}
        <p className="small muted">{t('provisioning.upgrade.help')}</p>
        <ErrorLine error={upgrade.error} fields={['version']} />
      </form>
    </Dialog>
  );
}

function DeleteDialog({ pc, isAdmin, onClose }: { pc: ProvisionedDetail; isAdmin: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const remove = useDeleteProvisioned(pc.id);
  const [force, setForce] = useState(false);
  const live = remove.error instanceof ApiError && remove.error.code === 'service_maps_live';
  const maps = live && remove.error instanceof ApiError ? remove.error.params.service_maps : undefined;
  return (
    <TypeToConfirmDialog
      title={t('provisioning.delete.title', { name: pc.name })}
      message={t('provisioning.delete.message', { name: pc.name })}
      expected={pc.name}
      confirmLabel={t('provisioning.delete.submit')}
      busyLabel={t('provisioning.delete.busy')}
      busy={remove.isPending}
      error={remove.error}
      onConfirm={() => remove.mutate({ confirm: pc.name, ...(force ? { force: true } : {}) }, { onSuccess: onClose })}
      onCancel={onClose}
    >
      {live && Array.isArray(maps) && (
        <p className="small" data-testid="delete-live-maps">
          {t('provisioning.delete.liveMaps', { maps: maps.map((m) => (typeof m === 'object' && m !== null && 'name' in m ? String((m as { name: unknown }).name) : String(m))).join(', ') })}
        </p>
      )}
      {live && isAdmin && (
        <label className="checkbox">
          <input type="checkbox" data-testid="delete-force" checked={force} onChange={(e) => setForce(e.target.checked)} /> {t('provisioning.delete.force')}
        </label>
      )}
    </TypeToConfirmDialog>
  );
}

type PoolDialog = { kind: 'scale' | 'resize' | 'delete'; pool: Pool | PoolSummary } | { kind: 'add' } | null;

function Pools({ pc, operates }: { pc: ProvisionedDetail; operates: boolean }) {
  const { t } = useTranslation();
  const pools = usePools(pc.id, pc.phase !== 'deleted');
  const removePool = useDeletePool(pc.id);
  const [dialog, setDialog] = useState<PoolDialog>(null);
  // the pools endpoint has the machine sizes; the row's progress is the fallback while it loads
  const rows: (Pool | PoolSummary)[] = pools.data ?? pc.progress.pools ?? [];
  const canAct = operates && pc.phase !== 'deleting' && pc.phase !== 'deleted';
  return (
    <section className="card" aria-labelledby="pools-title" data-testid="pools">
      <header className="page-header page-header-row">
        <h2 id="pools-title">{t('provisioning.cluster.pools')}</h2>
        {canAct && (
          <button type="button" className="btn btn-small" data-testid="add-pool" onClick={() => setDialog({ kind: 'add' })}>
            {t('provisioning.pool.add')}
          </button>
        )}
      </header>
      {pools.isError && <ErrorState error={pools.error} onRetry={() => void pools.refetch()} />}
      {rows.length === 0 ? (
        <p className="muted">{t('provisioning.cluster.noPools')}</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="pools-table">
            <caption className="visually-hidden">{t('provisioning.cluster.pools')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('provisioning.col.pool')}</th>
                <th scope="col">{t('provisioning.col.replicas')}</th>
                <th scope="col">{t('provisioning.col.phase')}</th>
                <th scope="col">{t('provisioning.col.size')}</th>
                <th scope="col">{t('provisioning.col.version')}</th>
                {canAct && <th scope="col">{t('provisioning.col.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.name} data-testid={`pool-${p.name}`} data-replicas={p.replicas} data-ready={p.ready} data-phase={p.phase}>
                  <th scope="row" className="mono">
                    {p.name}
                    {p.deleting && <span className="badge tone-warn">{t('provisioning.cluster.deleting')}</span>}
                  </th>
                  <td data-testid="pool-ready">{t('provisioning.pool.ready', { ready: p.ready, replicas: p.replicas })}</td>
                  <td>{p.phase || '—'}</td>
                  <td>{'machine_size' in p ? p.machine_size || '—' : '—'}</td>
                  <td className="mono small">{p.version || '—'}</td>
                  {canAct && (
                    <td className="nowrap">
                      <button type="button" className="btn btn-small" data-testid={`scale-${p.name}`} disabled={p.deleting} onClick={() => setDialog({ kind: 'scale', pool: p })}>
                        {t('provisioning.pool.scale')}
                      </button>{' '}
                      <button type="button" className="btn btn-small" data-testid={`resize-${p.name}`} disabled={p.deleting || pc.machine_sizes.length === 0} onClick={() => setDialog({ kind: 'resize', pool: p })}>
                        {t('provisioning.pool.resize')}
                      </button>{' '}
                      <button type="button" className="btn btn-small btn-danger-outline" data-testid={`delete-pool-${p.name}`} disabled={p.deleting} onClick={() => setDialog({ kind: 'delete', pool: p })}>
                        {t('provisioning.pool.delete')}
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {dialog?.kind === 'add' && <AddPoolDialog id={pc.id} sizes={pc.machine_sizes} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'scale' && <ScaleDialog id={pc.id} pool={dialog.pool} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'resize' && <ResizeDialog id={pc.id} pool={dialog.pool} sizes={pc.machine_sizes} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={t('provisioning.pool.deleteTitle', { pool: dialog.pool.name })}
          message={t('provisioning.pool.deleteMessage', { count: dialog.pool.replicas })}
          confirmLabel={t('provisioning.pool.delete')}
          busyLabel={t('provisioning.pool.delete')}
          busy={removePool.isPending}
          error={removePool.error}
          submitTestId="delete-pool-submit"
          onConfirm={() => removePool.mutate(dialog.pool.name, { onSuccess: () => setDialog(null) })}
          onCancel={() => {
            removePool.reset();
            setDialog(null);
          }}
        />
      )}
    </section>
  );
}

function specText(op: Operation): string {
  return Object.entries(op.spec ?? {})
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

export function OperationsTable({ operations }: { operations: Operation[] }) {
  const { t } = useTranslation();
  if (operations.length === 0) return <p className="muted">{t('provisioning.cluster.noOperations')}</p>;
  return (
    <div className="table-scroll">
      <table className="table" data-testid="operations-table">
        <caption className="visually-hidden">{t('provisioning.cluster.operations')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('provisioning.col.operation')}</th>
            <th scope="col">{t('provisioning.col.status')}</th>
            <th scope="col">{t('provisioning.col.message')}</th>
            <th scope="col">{t('provisioning.col.by')}</th>
            <th scope="col">{t('provisioning.col.started')}</th>
            <th scope="col">{t('provisioning.col.finished')}</th>
          </tr>
        </thead>
        <tbody>
          {operations.map((op) => (
            <tr key={op.id} data-testid={`operation-${op.id}`} data-kind={op.kind} data-status={op.status}>
              <td>
                {t(`provisioning.opKind.${op.kind}`, { defaultValue: op.kind })} <span className="mono small muted">{specText(op)}</span>
              </td>
              <td>
                <OperationBadge status={op.status} />
              </td>
              <td className="small">{messageText(t, op) || '—'}</td>
              <td className="small">{op.created_by || '—'}</td>
              <td className="small">
                <When iso={op.started ?? op.created} />
              </td>
              <td className="small">
                <When iso={op.finished} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ProvisionedPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const access = useProvisioningAccess();
  const pc = useProvisioned(id);
  useProvisionedLive(id);
  const [dialog, setDialog] = useState<'upgrade' | 'delete' | null>(null);
  if (!Number.isInteger(id) || (pc.error instanceof ApiError && pc.error.status === 404)) return <NotFound />;
  const x = pc.data;
  const gone = x ? LIVE_PHASES.has(x.phase) : false;
  return (
    <section className="page page-wide" data-testid="provisioned-page">
      <p className="muted small breadcrumbs">
        <Link to="/provisioning">{t('provisioning.cluster.breadcrumb')}</Link> / {x?.name ?? id}
      </p>
      {pc.isPending && <Loading />}
      {pc.isError && <ErrorState error={pc.error} onRetry={() => void pc.refetch()} />}
      {x && (
        <>
          <section className="card cluster-header" data-testid="provisioned-header" data-phase={x.phase}>
            <header className="page-header page-header-row">
              <h1>
                {x.display_name || x.name} <ProvisionedPhaseBadge phase={x.phase} />
              </h1>
              {!gone && x.phase !== 'deleting' && (
                <div className="header-actions">
                  {access.operates && (
                    <button type="button" className="btn btn-small" data-testid="upgrade-cluster" onClick={() => setDialog('upgrade')}>
                      {t('provisioning.cluster.upgrade')}
                    </button>
                  )}
                  {access.isAdmin && (
                    <button type="button" className="btn btn-small btn-danger-outline" data-testid="delete-provisioned" onClick={() => setDialog('delete')}>
                      {t('provisioning.cluster.delete')}
                    </button>
                  )}
                </div>
              )}
            </header>
            <p className="small" data-testid="provisioned-from">
              {t('provisioning.cluster.from', { template: x.template_name, version: x.template_version, management: x.management_cluster, namespace: x.namespace })} ·{' '}
              <ProviderName provider={x.provider} /> · <span className="mono">{x.progress.control_plane?.version || x.kubernetes_version}</span>
            </p>
            <p className="small">
              {x.cluster ? (
                <Link to={`/clusters/${x.cluster}`} data-testid="provisioned-cluster-link">
                  {t('provisioning.cluster.openCluster')}
                </Link>
              ) : (
                !gone && <span className="muted">{t('provisioning.cluster.notRegistered')}</span>
              )}
            </p>
            {gone && (
              <p className="muted" data-testid="provisioned-deleted">
                {t('provisioning.cluster.deleted')} <When iso={x.deleted} />
              </p>
            )}
            {messageText(t, x) && <p className={x.phase === 'failed' ? 'alert alert-error' : 'small'}>{messageText(t, x)}</p>}
          </section>
          {!gone && (
            <section className="card" aria-labelledby="progress-title">
              <h2 id="progress-title">{t('provisioning.cluster.progress')}</h2>
              <ProgressSummary progress={x.progress} />
              <h3>{t('provisioning.cluster.machines')}</h3>
              <MachinesTable machines={x.progress.machines ?? []} caption={t('provisioning.cluster.machines')} />
            </section>
          )}
          {!gone && <Pools pc={x} operates={access.operates} />}
          <section className="card" aria-labelledby="operations-title">
            <h2 id="operations-title">{t('provisioning.cluster.operations')}</h2>
            <OperationsTable operations={x.operations} />
          </section>
          {dialog === 'upgrade' && <UpgradeDialog pc={x} onClose={() => setDialog(null)} />}
          {dialog === 'delete' && <DeleteDialog pc={x} isAdmin={access.isAdmin} onClose={() => setDialog(null)} />}
        </>
      )}
    </section>
  );
}
