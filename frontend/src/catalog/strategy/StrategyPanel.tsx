/**
 * The strategy of a release on its page: the type and its settings, `strategy_state` (phase,
 * the active and preview colors of blue/green, the canaries), Promote / Confirm / Abort with a
 * confirmation each (grant `workloads.rollback`; `POST …/promote|confirm|abort/`), and the old vs
 * new (and canary) pods from `GET …/pods/`, refetched when `release.updated` or
 * `revision.updated` about this release arrive on `workspace.<id>`.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { Loading } from '../../components/Loading';
import { apiErrorText } from '../../lib/messages';
import type { Release } from '../types';
import { useReleasePods, useStrategyAction, type StrategyAction } from './api';
import { asStrategy, asStrategyState, type ReleasePod } from './types';
import '../../config/config.css';

function Color({ color, testId }: { color: string | undefined; testId: string }) {
  if (!color) return null;
  return (
    <span className={`color-chip color-${color}`} data-testid={testId} data-color={color}>
      {color}
    </span>
  );
}

function PodList({ title, pods, testId }: { title: string; pods: ReleasePod[]; testId: string }) {
  const { t } = useTranslation();
  return (
    <div data-testid={testId} data-count={pods.length}>
      <h3>
        {title} <span className="muted small">({pods.length})</span>
      </h3>
      {pods.length === 0 ? (
        <p className="muted small">{t('strategy.noPods')}</p>
      ) : (
        <table className="table table-dense">
          <thead>
            <tr>
              <th scope="col">{t('clusters.col.name')}</th>
              <th scope="col">{t('clusters.col.status')}</th>
              <th scope="col" className="num">{t('workspaces.servicemap.ready')}</th>
              <th scope="col">{t('strategy.image')}</th>
            </tr>
          </thead>
          <tbody>
            {pods.map((p) => (
              <tr key={p.name} data-testid={`release-pod-${p.name}`} data-status={p.status || p.phase}>
                <td className="mono small">
                  {p.name} {p.color && <Color color={p.color} testId="pod-color" />}
                </td>
                <td className="small">{p.status || p.phase}</td>
                <td className="num small">{p.ready}</td>
                <td className="mono small wrap-any">{p.images.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function StrategyPanel({ release, canAct }: { release: Release; canAct: boolean }) {
  const { t } = useTranslation();
  const strategy = asStrategy(release.strategy);
  const state = asStrategyState(release.strategy_state);
  const phase = state.phase ?? 'stable';
  const pods = useReleasePods(release.id, release.workspace.id);
  const act = useStrategyAction(release.id);
  const [confirm, setConfirm] = useState<StrategyAction | null>(null);
  const waiting = phase === 'awaiting_promotion' || phase === 'awaiting_confirmation';
  const settings =
    strategy.type === 'rolling'
      ? t('strategy.rollingSettings', { surge: String(strategy.max_surge ?? '25%'), unavailable: String(strategy.max_unavailable ?? '25%') })
      : strategy.type === 'canary'
        ? t('strategy.canarySettings', { n: strategy.canary_replicas ?? 1 })
        : '';
  const bodyKey = `strategy.confirm_${confirm ?? 'promote'}_${strategy.type === 'canary' ? 'canary' : 'bluegreen'}` as const;
  return (
    <section className="card" data-testid="strategy-panel" data-type={strategy.type} data-phase={phase}>
      <div className="cluster-title">
        <h2 className="card-title">
          {t('strategy.title')}: <span data-testid="strategy-type-label">{t(`strategy.types.${strategy.type}`)}</span>{' '}
          <span className={`badge ${waiting ? 'tone-warn' : 'tone-ok'}`} data-testid="strategy-phase" data-phase={phase}>
            {t(`strategy.phase.${phase}` as 'strategy.phase.stable', { defaultValue: phase })}
          </span>
        </h2>
        {canAct && waiting && (
          <div className="header-actions">
            {phase === 'awaiting_promotion' && (
              <button type="button" className="btn btn-small btn-primary" data-testid="promote-release" onClick={() => setConfirm('promote')}>
                {t('strategy.promote')}
              </button>
            )}
            {phase === 'awaiting_confirmation' && (
              <button type="button" className="btn btn-small btn-primary" data-testid="confirm-release" onClick={() => setConfirm('confirm')}>
                {t('strategy.confirm')}
              </button>
            )}
            <button type="button" className="btn btn-small btn-danger-outline" data-testid="abort-release" onClick={() => setConfirm('abort')}>
              {t('strategy.abort')}
            </button>
          </div>
        )}
      </div>
      {settings && <p className="small muted" data-testid="strategy-settings">{settings}</p>}
      <dl className="facts">
        {state.active && (
          <div>
            <dt>{t('strategy.active')}</dt>
            <dd>
              <Color color={state.active} testId="strategy-active" />
            </dd>
          </div>
        )}
        {state.preview && (
          <div>
            <dt>{t('strategy.preview')}</dt>
            <dd>
              <Color color={state.preview} testId="strategy-preview" />
            </dd>
          </div>
        )}
        {state.previous && (
          <div>
            <dt>{t('strategy.previous')}</dt>
            <dd>
              <Color color={state.previous} testId="strategy-previous" />
            </dd>
          </div>
        )}
        {state.canary && state.canary.length > 0 && (
          <div>
            <dt>{t('strategy.canaries')}</dt>
            <dd className="mono small" data-testid="strategy-canaries">
              {state.canary.join(', ')}
            </dd>
          </div>
        )}
        {state.from_revision !== undefined && (
          <div>
            <dt>{t('strategy.fromRevision')}</dt>
            <dd data-testid="strategy-from-revision">{state.from_revision}</dd>
          </div>
        )}
      </dl>
      {act.error && confirm === null && (
        <p className="alert alert-error" role="alert" data-testid="strategy-error" data-status={act.error.status}>
          {apiErrorText(t, act.error)}
        </p>
      )}
      <h3 className="card-title">{t('strategy.pods')}</h3>
      {pods.isPending && <Loading />}
      {pods.isError && (
        <p className="alert alert-error" role="alert">
          {apiErrorText(t, pods.error)}
        </p>
      )}
      {pods.data && (
        <div className="pods-compare" data-testid="release-pods">
          <PodList title={t('strategy.oldPods')} pods={pods.data.old} testId="pods-old" />
          <PodList title={t('strategy.newPods')} pods={pods.data.new} testId="pods-new" />
          {(pods.data.canary.length > 0 || strategy.type === 'canary') && <PodList title={t('strategy.canaryPods')} pods={pods.data.canary} testId="pods-canary" />}
        </div>
      )}
      {confirm && (
        <ConfirmDialog
          title={t(`strategy.${confirm}`)}
          message={t(bodyKey, { name: release.name, active: state.active ?? '', preview: state.preview ?? '', previous: state.previous ?? '', from: state.from_revision ?? '' })}
          confirmLabel={t(`strategy.${confirm}`)}
          busyLabel={t('common.saving')}
          busy={act.isPending}
          error={act.error}
          submitTestId={`confirm-${confirm}`}
          onConfirm={() => act.mutate(confirm, { onSuccess: () => setConfirm(null) })}
          onCancel={() => {
            act.reset();
            setConfirm(null);
          }}
        />
      )}
    </section>
  );
}
