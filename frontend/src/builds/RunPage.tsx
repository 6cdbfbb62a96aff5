/**
 * /builds/runs/:id — one build run: a header with Cocktail's status, the image `repo:tag`, its
 * digest (short, copyable), size, commit, trigger, who started it, timing and the release revision
 * a deploy step made (linked to /releases/:id); the steps with status and duration; a live log panel
 * per step (StepLogPanel). The running step's log opens by itself, and a failed step's log stays
 * open. Cancel (with a confirmation) while it runs, Rebuild once it has finished; both need
 * `builds.run` in the run's workspace. Live from `buildrun.<id>`.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { bytesHuman, useNow } from '../clusters/format';
import { formatDateTime } from '../lib/format';
import { apiErrorText, messageText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { useWorkspace, useWorkspaceAccess } from '../workspaces/queries';
import { BUILDS_RUN } from './access';
import { CopyButton, RunStatusBadge } from './common';
import { duration, imageRef, isActive, shortCommit, shortDigest } from './format';
import { useRunLive } from './live';
import { useCancelRun, useDefinition, useRebuild, useRun } from './queries';
import { StepLogPanel } from './StepLogPanel';
import type { BuildRunDetail, BuildStep } from './types';

const STEP_TONE: Record<string, string> = {
  succeeded: 'tone-ok',
  running: 'tone-warn',
  failed: 'tone-bad',
  pending: 'tone-neutral',
  skipped: 'tone-neutral',
  cancelled: 'tone-neutral',
};

function StepBadge({ step }: { step: BuildStep }) {
  const { t } = useTranslation();
  return (
    <span className={`badge ${STEP_TONE[step.status] ?? 'tone-neutral'}`} data-testid="step-status" data-status={step.status}>
      {t(`builds.stepStatus.${step.status}`, { defaultValue: step.status })}
    </span>
  );
}

function RunHeader({ run, now }: { run: BuildRunDetail; now: number }) {
  const { t } = useTranslation();
  const image = imageRef(run);
  // The image's page in the registry (its tags, scan): the definition names the registry.
  const definition = useDefinition(run.image_digest ? run.definition.id : null);
  const d = definition.data;
  return (
    <section className="card" data-testid="run-header" data-status={run.status}>
      <dl className="facts">
        <dt>{t('builds.col.status')}</dt>
        <dd>
          <RunStatusBadge run={run} />
          {run.message && (
            <div className="small muted" data-testid="run-message">
              {messageText(t, run)}
            </div>
          )}
        </dd>
        <dt>{t('builds.col.image')}</dt>
        <dd className="wrap-any">
          <span className="mono" data-testid="run-image">
            {image || '—'}
          </span>
          {d && run.image_digest && (
            <div className="small">
              <Link to={`/registries/${d.registry.id}/repositories/${d.repository}`} data-testid="run-image-link">
                {t('builds.run.inRegistry')}
              </Link>
            </div>
          )}
        </dd>
        <dt>{t('builds.run.digest')}</dt>
        <dd data-testid="run-digest" data-digest={run.image_digest}>
          {run.image_digest ? (
            <>
              <span className="mono" title={run.image_digest}>
                {shortDigest(run.image_digest)}
              </span>{' '}
              <CopyButton value={run.image_digest} testId="copy-digest" />
            </>
          ) : (
            '—'
          )}
        </dd>
        <dt>{t('builds.col.size')}</dt>
        <dd data-testid="run-size">{run.image_size ? bytesHuman(run.image_size) : '—'}</dd>
        <dt>{t('builds.run.commit')}</dt>
        <dd className="mono" data-testid="run-commit" title={run.git_commit}>
          {run.git_ref}
          {run.git_commit ? ` @ ${shortCommit(run.git_commit)}` : ''}
        </dd>
        <dt>{t('builds.run.trigger')}</dt>
        <dd data-testid="run-trigger">
          {t(`builds.trigger.${run.trigger}`, { defaultValue: run.trigger })}
          {run.requested_username ? ` · ${run.requested_username}` : ''}
        </dd>
        <dt>{t('builds.run.timing')}</dt>
        <dd data-testid="run-timing">
          {t('builds.run.created', { time: formatDateTime(run.created) ?? '—' })}
          {run.started && <> · {t('builds.run.took', { duration: duration(t, run.started, run.finished, now) })}</>}
        </dd>
        {run.deployed_release && (
          <>
            <dt>{t('builds.run.deployed')}</dt>
            <dd data-testid="run-deployed">
              <Link to={`/releases/${run.deployed_release.id}`}>{run.deployed_release.name}</Link>
              {run.deployed_revision ? ` · ${t('builds.run.revision', { number: run.deployed_revision })}` : ''}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

export function RunPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const id = Number(useParams().id);
  const run = useRun(id);
  useRunLive(id);
  const now = useNow(1000);
  const data = run.data;
  const workspace = useWorkspace(data?.workspace.id ?? NaN);
  const access = useWorkspaceAccess(workspace.data);
  const mayRun = access.can(BUILDS_RUN);
  const cancel = useCancelRun(id);
  const rebuild = useRebuild(id);
  const [confirmCancel, setConfirmCancel] = useState(false);
  // Logs open: the running step (as the run moves on) and a failed one, plus what the user opened.
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [closed, setClosed] = useState<Set<string>>(new Set());
  const steps = [...(data?.steps ?? [])].sort((a, b) => a.position - b.position);
  const auto = steps.filter((s) => s.status === 'running' || s.status === 'failed').map((s) => s.name);
  const autoKey = auto.join(',');
  useEffect(() => {
    if (!autoKey) return;
    setOpen((old) => {
      const next = new Set(old);
      for (const name of autoKey.split(',')) next.add(name);
      return next.size === old.size ? old : next;
    });
  }, [autoKey]);
  // A finished run with nothing open shows its last step that has a log.
  const lastWithLog = [...steps].reverse().find((s) => s.log_size > 0)?.name;
  const isOpen = (name: string) => !closed.has(name) && (open.has(name) || (open.size === 0 && name === lastWithLog));
  const toggle = (name: string) => {
    if (isOpen(name)) {
      setClosed((c) => new Set(c).add(name));
    } else {
      setClosed((c) => {
        const next = new Set(c);
        next.delete(name);
        return next;
      });
      setOpen((o) => new Set(o).add(name));
    }
  };

  if (run.error instanceof ApiError && run.error.status === 404) return <NotFound />;
  const actionError = cancel.error ?? rebuild.error;
  return (
    <section className="page page-wide" data-testid="run-page">
      <p className="muted small breadcrumbs">
        <Link to="/builds">{t('builds.title')}</Link>
        {data && (
          <>
            {' '}
            / <Link to={`/builds/definitions/${data.definition.id}`}>{data.definition.name}</Link> / #{data.number}
          </>
        )}
      </p>
      {run.isPending && <Loading />}
      {run.isError && <ErrorState error={run.error} onRetry={() => void run.refetch()} />}
      {data && (
        <>
          <header className="page-header page-header-row">
            <div>
              <h1>
                <span className="mono">{data.definition.name}</span> #{data.number}
              </h1>
              <p className="muted small">{data.workspace.name}</p>
            </div>
            <div className="header-actions">
              {mayRun && isActive(data.status) && data.status !== 'cancelling' && (
                <button type="button" className="btn btn-danger-outline" data-testid="run-cancel" onClick={() => setConfirmCancel(true)}>
                  {t('builds.run.cancel')}
                </button>
              )}
              {mayRun && !isActive(data.status) && (
                <button
                  type="button"
                  className="btn"
                  data-testid="run-rebuild"
                  disabled={rebuild.isPending}
                  onClick={() => rebuild.mutate(undefined, { onSuccess: (row) => navigate(`/builds/runs/${row.id}`) })}
                >
                  {rebuild.isPending ? t('builds.list.starting') : t('builds.run.rebuild')}
                </button>
              )}
            </div>
          </header>
          {actionError && (
            <p className="alert alert-error" role="alert" data-testid="run-action-error">
              {apiErrorText(t, actionError)}
            </p>
          )}
          <RunHeader run={data} now={now} />
          <section className="card" data-testid="run-steps">
            <h2 className="card-title">{t('builds.run.steps', { done: data.steps_done, total: data.steps_total })}</h2>
            <table className="table table-dense build-steps">
              <thead>
                <tr>
                  <th scope="col" className="num">#</th>
                  <th scope="col">{t('builds.run.step')}</th>
                  <th scope="col">{t('builds.col.status')}</th>
                  <th scope="col">{t('builds.run.duration')}</th>
                  <th scope="col">{t('builds.run.stepMessage')}</th>
                  <th scope="col" className="actions-col">
                    <span className="visually-hidden">{t('builds.col.actions')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {steps.map((s) => (
                  <tr key={s.name} className={`step-row${s.status === 'running' ? ' active' : ''}`} data-testid={`step-${s.name}`} data-status={s.status}>
                    <td className="num">{s.position}</td>
                    <td>{t(`builds.step.${s.name}`, { defaultValue: s.name })}</td>
                    <td>
                      <StepBadge step={s} />
                    </td>
                    <td className="small nowrap">{duration(t, s.started, s.finished, now) || '—'}</td>
                    <td className="small">
                      {messageText(t, s)}
                      {s.exit_code !== null && s.exit_code !== 0 ? ` (${t('builds.run.exitCode', { code: s.exit_code })})` : ''}
                    </td>
                    <td className="actions-col">
                      <button type="button" className="btn btn-small" aria-expanded={isOpen(s.name)} data-testid={`step-log-toggle-${s.name}`} onClick={() => toggle(s.name)}>
                        {isOpen(s.name) ? t('builds.log.hide') : t('builds.log.show')}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {steps
              .filter((s) => isOpen(s.name))
              .map((s) => (
                <StepLogPanel key={s.name} runId={data.id} step={s.name} status={s.status} logSize={s.log_size} title={t(`builds.step.${s.name}`, { defaultValue: s.name })} />
              ))}
          </section>
          {confirmCancel && (
            <ConfirmDialog
              title={t('builds.run.cancelTitle')}
              message={t('builds.run.cancelMessage', { name: `${data.definition.name} #${data.number}` })}
              confirmLabel={t('builds.run.cancel')}
              busyLabel={t('builds.run.cancelling')}
              busy={cancel.isPending}
              error={cancel.error}
              submitTestId="run-cancel-confirm"
              onConfirm={() => cancel.mutate(undefined, { onSuccess: () => setConfirmCancel(false) })}
              onCancel={() => setConfirmCancel(false)}
            />
          )}
        </>
      )}
    </section>
  );
}
