/**
 * /rollouts/:id — a rollout's ledger: one line per target (cluster, namespace, wave, state,
 * reason), live from `rollout.updated` on `workspace.<id>`; cancel (confirmed) stops starting new
 * targets; a finished rollout's record can be deleted (its releases stay).
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { apiErrorText, messageText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { useWorkspace, useWorkspaceAccess } from '../workspaces/queries';
import { CatalogBadge } from './common';
import { useCatalogLive } from './live';
import { useCancelRollout, useDeleteRollout, useRollout } from './queries';
import type { Rollout } from './types';

export function Ledger({ rollout }: { rollout: Rollout }) {
  const { t } = useTranslation();
  return (
    <table className="table table-dense" data-testid="rollout-ledger">
      <thead>
        <tr>
          <th scope="col">{t('catalog.col.cluster')}</th>
          <th scope="col">{t('catalog.col.namespace')}</th>
          <th scope="col" className="num">{t('catalog.col.wave')}</th>
          <th scope="col">{t('catalog.col.status')}</th>
          <th scope="col">{t('catalog.col.reason')}</th>
          <th scope="col">{t('catalog.col.release')}</th>
        </tr>
      </thead>
      <tbody>
        {rollout.targets.map((target) => (
          <tr key={target.id} data-testid={`target-row-${target.service_map.cluster.name}-${target.service_map.namespace}`} data-state={target.state}>
            <td>{target.service_map.cluster.name}</td>
            <td className="mono">{target.service_map.namespace}</td>
            <td className="num">{target.wave === 0 && rollout.targets.some((x) => x.wave > 0) ? t('catalog.rollout.canaryWave') : target.wave}</td>
            <td>
              <CatalogBadge state={target.state} testId="target-state" />
            </td>
            <td className="small" data-testid="target-reason">
              {target.reason || ''}
            </td>
            <td>
              {target.release ? (
                <Link to={`/releases/${target.release}`} data-testid="target-release-link">
                  {rollout.release_name}
                  {target.revision ? ` #${target.revision}` : ''}
                </Link>
              ) : (
                <span className="muted">—</span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RolloutPage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const rollout = useRollout(id);
  const workspace = useWorkspace(rollout.data?.workspace ?? NaN);
  const access = useWorkspaceAccess(workspace.data);
  useCatalogLive(rollout.data?.workspace ?? null);
  const cancel = useCancelRollout(id);
  const remove = useDeleteRollout(id);
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<'cancel' | 'delete' | null>(null);
  if (!Number.isInteger(id) || (rollout.error instanceof ApiError && rollout.error.status === 404)) return <NotFound />;
  const r = rollout.data;
  const counts = new Map<string, number>();
  for (const target of r?.targets ?? []) counts.set(target.state, (counts.get(target.state) ?? 0) + 1);
  return (
    <section className="page page-wide" data-testid="rollout-page">
      <p className="muted small breadcrumbs">
        <Link to="/releases">{t('catalog.releases.title')}</Link> / {t('catalog.rollout.title', { id })}
      </p>
      {rollout.isPending && <Loading />}
      {rollout.isError && <ErrorState error={rollout.error} onRetry={() => void rollout.refetch()} />}
      {r && (
        <section className="card cluster-header" data-testid="rollout-header" data-status={r.status}>
          <div className="cluster-title">
            <div>
              <h1>
                <span className="mono">{r.release_name}</span>{' '}
                <span className="mono small" data-testid="rollout-version">
                  {r.version.label || r.version.version}
                </span>{' '}
                <CatalogBadge state={r.status} testId="rollout-status" />
              </h1>
              <p className="muted small" data-testid="rollout-counts">
                {[...counts.entries()].map(([state, n]) => `${t(`catalog.state.${state}` as 'catalog.state.pending', { defaultValue: state })} ${n}`).join(' · ')}
              </p>
            </div>
            {access.can('workloads.deploy') && (
              <div className="header-actions">
                {r.status === 'running' ? (
                  <button type="button" className="btn btn-small btn-danger-outline" data-testid="cancel-rollout" onClick={() => setDialog('cancel')}>
                    {t('catalog.rollout.cancel')}
                  </button>
                ) : (
                  <button type="button" className="btn btn-small btn-danger-outline" data-testid="delete-rollout" onClick={() => setDialog('delete')}>
                    {t('catalog.rollout.delete')}
                  </button>
                )}
              </div>
            )}
          </div>
          {r.message && (
            <p className={r.status === 'failed' ? 'alert alert-error' : 'muted'} data-testid="rollout-message">
              {messageText(t, r)}
            </p>
          )}
          {cancel.error && (
            <p className="alert alert-error" role="alert" data-testid="rollout-error">
              {apiErrorText(t, cancel.error)}
            </p>
          )}
        </section>
      )}
      {dialog === 'cancel' && (
        <ConfirmDialog
          title={t('catalog.rollout.cancel')}
          message={t('catalog.rollout.cancelBody', { id })}
          confirmLabel={t('catalog.rollout.cancel')}
          busyLabel={t('catalog.rollout.working')}
          busy={cancel.isPending}
          error={cancel.error}
          testId="cancel-rollout-dialog"
          submitTestId="cancel-rollout-submit"
          onCancel={() => {
            cancel.reset();
            setDialog(null);
          }}
          onConfirm={() => cancel.mutate(undefined, { onSuccess: () => setDialog(null) })}
        />
      )}
      {dialog === 'delete' && (
        <ConfirmDialog
          title={t('catalog.rollout.delete')}
          message={t('catalog.rollout.deleteBody', { id })}
          confirmLabel={t('catalog.rollout.delete')}
          busyLabel={t('catalog.rollout.working')}
          busy={remove.isPending}
          error={remove.error}
          testId="delete-rollout-dialog"
          submitTestId="delete-rollout-submit"
          onCancel={() => {
            remove.reset();
            setDialog(null);
          }}
          onConfirm={() => remove.mutate(undefined, { onSuccess: () => navigate('/releases') })}
        />
      )}
      {r && (
        <section className="card">
          <h2 className="card-title">{t('catalog.rollout.ledger')}</h2>
          <Ledger rollout={r} />
        </section>
      )}
    </section>
  );
}
