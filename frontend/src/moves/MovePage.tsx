/**
 * /moves/:id — one move of a service map to another cluster: its ledger (steps with state and
 * message), the releases on the target, and "Retire source…" (type the source namespace) once the
 * target is healthy. Live from the workspace's group (`move.updated`).
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { phaseTone } from '../clusters/badges';
import { relativeTime, useNow } from '../clusters/format';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { TypeToConfirmDialog } from '../components/TypeToConfirmDialog';
import { messageText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import '../provisioning/provisioning.css';
import { useMove, useMovesLive, useRetireSource } from './queries';
import { workspaceIdOf, type Move } from './types';

type StatusKey = keyof typeof import('../i18n/moves.en.json')['status'];

function When({ iso }: { iso: string | null | undefined }) {
  const { i18n } = useTranslation();
  const now = useNow(30_000);
  return <span title={iso ?? undefined}>{relativeTime(iso, now, i18n.language) ?? '—'}</span>;
}

function StateBadge({ state }: { state: string }) {
  const { t } = useTranslation();
  const tone = state === 'done' || state === 'healthy' || state === 'succeeded' || state === 'retired' ? 'ok' : phaseTone(state);
  return (
    <span className={`badge tone-${tone}`} data-state={state}>
      {t(`moves.status.${state as StatusKey}`, { defaultValue: state })}
    </span>
  );
}

function StepName({ step }: { step: string }) {
  const { t } = useTranslation();
  return <>{t(`moves.stepName.${step}` as 'moves.stepName.plan', { defaultValue: step.replace(/_/g, ' ') })}</>;
}

function Retire({ move }: { move: Move }) {
  const { t } = useTranslation();
  const retire = useRetireSource(move.id);
  const [open, setOpen] = useState(false);
  if (move.status !== 'healthy') return null;
  return (
    <>
      <button type="button" className="btn btn-small btn-danger-outline" data-testid="retire-source" onClick={() => setOpen(true)}>
        {t('moves.retire')}
      </button>
      {open && (
        <TypeToConfirmDialog
          title={t('moves.retireTitle', { namespace: move.source_namespace })}
          message={t('moves.retireMessage', { cluster: move.source_cluster_name })}
          expected={move.source_namespace}
          confirmLabel={t('moves.retireSubmit')}
          busyLabel={t('moves.retireBusy')}
          busy={retire.isPending}
          error={retire.error}
          onConfirm={() => retire.mutate(move.source_namespace, { onSuccess: () => setOpen(false) })}
          onCancel={() => setOpen(false)}
        />
      )}
    </>
  );
}

export function MovePage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const move = useMove(id);
  useMovesLive(move.data ? workspaceIdOf(move.data) : null, id);
  if (!Number.isInteger(id) || (move.error instanceof ApiError && move.error.status === 404)) return <NotFound />;
  const m = move.data;
  const ws = m ? workspaceIdOf(m) : null;
  return (
    <section className="page page-wide" data-testid="move-page">
      <p className="muted small breadcrumbs">
        {m && ws !== null && m.source !== null ? (
          <Link to={`/workspaces/${ws}/servicemaps/${m.source}`}>{m.source_namespace}</Link>
        ) : (
          (m?.source_namespace ?? id)
        )}{' '}
        / {t('moves.breadcrumb')}
      </p>
      {move.isPending && <Loading />}
      {move.isError && <ErrorState error={move.error} onRetry={() => void move.refetch()} />}
      {m && (
        <>
          <section className="card cluster-header" data-testid="move-header" data-status={m.status}>
            <header className="page-header page-header-row">
              <h1>
                {t('moves.page', { name: m.source_namespace })} <StateBadge state={m.status} />
              </h1>
              <div className="header-actions">
                <Retire move={m} />
              </div>
            </header>
            <p>
              {t('moves.from', {
                source: `${m.source_cluster_name}/${m.source_namespace}`,
                target: `${m.target_cluster_name}/${m.target_namespace}`,
              })}
            </p>
            {m.target !== null && ws !== null && (
              <p className="small">
                <Link to={`/workspaces/${ws}/servicemaps/${m.target}`} data-testid="move-target-link">
                  {m.target_cluster_name}/{m.target_namespace}
                </Link>
              </p>
            )}
            {messageText(t, m) && <p className={m.status === 'failed' ? 'alert alert-error' : 'small'}>{messageText(t, m)}</p>}
            <p className="small muted">
              <When iso={m.created} />
            </p>
          </section>
          <section className="card" aria-labelledby="move-steps-title">
            <h2 id="move-steps-title">{t('moves.steps')}</h2>
            <table className="table" data-testid="move-steps">
              <caption className="visually-hidden">{t('moves.steps')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('moves.step')}</th>
                  <th scope="col">{t('moves.state')}</th>
                  <th scope="col">{t('moves.col.message')}</th>
                  <th scope="col">{t('moves.col.finished')}</th>
                </tr>
              </thead>
              <tbody>
                {m.steps.map((s) => (
                  <tr key={s.key} data-testid={`move-step-${s.key}`} data-state={s.state}>
                    <td>
                      <StepName step={s.key} />
                    </td>
                    <td>
                      <StateBadge state={s.state} />
                    </td>
                    <td className="small">{messageText(t, s) || '—'}</td>
                    <td className="small">
                      <When iso={s.finished ?? null} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section className="card" aria-labelledby="move-targets-title">
            <h2 id="move-targets-title">{t('moves.targets')}</h2>
            {(m.releases ?? []).length === 0 ? (
              <p className="muted">{t('moves.none')}</p>
            ) : (
              <table className="table" data-testid="move-releases">
                <caption className="visually-hidden">{t('moves.targets')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('moves.release')}</th>
                    <th scope="col">{t('moves.package')}</th>
                    <th scope="col">{t('moves.state')}</th>
                    <th scope="col">{t('moves.col.message')}</th>
                  </tr>
                </thead>
                <tbody>
                  {(m.releases ?? []).map((r) => (
                    <tr key={r.name} data-testid={`move-release-${r.name}`} data-state={r.state}>
                      <td className="mono">{r.target_release ? <Link to={`/releases/${r.target_release}`}>{r.name}</Link> : r.name}</td>
                      <td className="small">{r.version || r.version_label || '—'}</td>
                      <td>
                        <StateBadge state={r.state} />
                      </td>
                      <td className="small">{messageText(t, r) || '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </section>
  );
}
