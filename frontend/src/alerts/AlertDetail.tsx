/**
 * /alerts/:id — one alert: what, where, since when; acknowledge (with a note), silence (a
 * duration and a reason: a silence matching the alert's fingerprint), resolve; its history (every
 * transition: who, when, the note) and its notifications with their delivery log. A button the
 * user may not use is disabled with the reason next to it (the row's `permissions`, else the
 * user's role and grants; a 403 answer's code when the server refuses).
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { formatDateTime } from '../lib/format';
import { apiErrorText, messageText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { ruleName, subjectText } from './AlertsList';
import { AlertsTabs, SeverityBadge, StateBadge, permission, type Allowed, fieldsOf } from './common';
import { useAcknowledge, useAlert, useCreateSilence, useManagedWorkspaces, useManagesInfrastructure, useNotifications, useResolve } from './queries';
import { refId, refName, userName, type AlertDetail, type DeliveryAttempt, type Notification } from './types';

const SILENCE_CHOICES = [3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600] as const;

function NoteDialog({
  title,
  label,
  submitLabel,
  testId,
  pending,
  error,
  onSubmit,
  onClose,
}: {
  title: string;
  label: string;
  submitLabel: string;
  testId: string;
  pending: boolean;
  error: ApiError | null;
  onSubmit: (note: string) => void;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const [note, setNote] = useState('');
  const formId = `${testId}-form`;
  return (
    <Dialog
      title={title}
      onClose={onClose}
      testId={testId}
      footer={<DialogActions onCancel={onClose} pending={pending} label={submitLabel} testId={`${testId}-submit`} form={formId} />}
    >
      <form
        id={formId}
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit(note.trim());
        }}
      >
        <FormField label={label} errors={(fieldsOf(error)['note'] ?? [])}>
          <textarea name="note" rows={3} maxLength={2000} value={note} onChange={(e) => setNote(e.target.value)} data-testid={`${testId}-note`} />
        </FormField>
        {error && !(fieldsOf(error)['note'] ?? []).length && (
          <div className="alert alert-error" role="alert">
            {apiErrorText(t, error)}
          </div>
        )}
      </form>
    </Dialog>
  );
}

function SilenceDialog({ alert, onClose }: { alert: AlertDetail; onClose: () => void }) {
  const { t } = useTranslation();
  const create = useCreateSilence();
  const [duration, setDuration] = useState<number>(SILENCE_CHOICES[0]);
  const [reason, setReason] = useState('');
  const [done, setDone] = useState(false);
  const err = create.error;
  return (
    <Dialog
      title={t('alerts.silence.title')}
      onClose={onClose}
      testId="silence-dialog"
      footer={
        done ? (
          <button type="button" className="btn btn-primary" onClick={onClose}>
            {t('common.close')}
          </button>
        ) : (
          <DialogActions onCancel={onClose} pending={create.isPending} label={t('alerts.silence.submit')} testId="silence-submit" form="silence-form" />
        )
      }
    >
      {done ? (
        <p role="status" data-testid="silence-done">
          {t('alerts.silence.done')} <Link to="/alerts/silences">{t('alerts.tabs.silences')}</Link>
        </p>
      ) : (
        <form
          id="silence-form"
          className="form-stack"
          onSubmit={(e) => {
            e.preventDefault();
            const now = Date.now();
            create.mutate(
              {
                fingerprint: alert.fingerprint,
                reason: reason.trim(),
                starts_at: new Date(now).toISOString(),
                ends_at: new Date(now + duration * 1000).toISOString(),
              },
              { onSuccess: () => setDone(true) },
            );
          }}
        >
          <p className="muted small">{t('alerts.silence.intro')}</p>
          <FormField label={t('alerts.silence.duration')} errors={[...((fieldsOf(err)['ends_at'] ?? [])), ...((fieldsOf(err)['starts_at'] ?? []))]}>
            <select name="duration" value={duration} onChange={(e) => setDuration(Number(e.target.value))} data-testid="silence-duration">
              {SILENCE_CHOICES.map((s) => (
                <option key={s} value={s}>
                  {s < 86400 ? t('alerts.duration.hours', { n: s / 3600 }) : t('alerts.duration.days', { n: s / 86400 })}
                </option>
              ))}
            </select>
          </FormField>
          <FormField label={t('alerts.silence.reason')} errors={(fieldsOf(err)['reason'] ?? [])}>
            <textarea name="reason" rows={3} required maxLength={2000} value={reason} onChange={(e) => setReason(e.target.value)} data-testid="silence-reason" />
          </FormField>
          {err && !(fieldsOf(err)['reason'] ?? []).length && (
            <div className="alert alert-error" role="alert">
              {apiErrorText(t, err)}
            </div>
          )}
        </form>
      )}
    </Dialog>
  );
}

function ActionButton({ label, allowed, testId, onClick }: { label: string; allowed: Allowed; testId: string; onClick: () => void }) {
  return (
    <div>
      <button
        type="button"
        className="btn"
        disabled={!allowed.allowed}
        title={allowed.reason || undefined}
        aria-describedby={allowed.reason ? `${testId}-why` : undefined}
        onClick={onClick}
        data-testid={testId}
      >
        {label}
      </button>
      {allowed.reason && (
        <div className="why-not" id={`${testId}-why`} data-testid={`${testId}-why`}>
          {allowed.reason}
        </div>
      )}
    </div>
  );
}

function attemptsOf(n: Notification): DeliveryAttempt[] {
  if (Array.isArray(n.attempts)) return n.attempts;
  return n.attempt_log ?? [];
}

function Notifications({ alertId }: { alertId: number }) {
  const { t } = useTranslation();
  const notifications = useNotifications(alertId);
  if (notifications.isPending) return <Loading />;
  if (notifications.isError) return <p className="muted small">{apiErrorText(t, notifications.error)}</p>;
  const rows = notifications.data ?? [];
  if (rows.length === 0)
    return (
      <p className="muted small" data-testid="notifications-empty">
        {t('alerts.detail.noNotifications')}
      </p>
    );
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="notifications-table">
        <thead>
          <tr>
            <th scope="col">{t('alerts.notifications.channel')}</th>
            <th scope="col">{t('alerts.notifications.event')}</th>
            <th scope="col">{t('alerts.notifications.state')}</th>
            <th scope="col">{t('alerts.notifications.log')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((n) => {
            const attempts = attemptsOf(n);
            return (
              <tr key={n.id} data-testid="notification-row" data-state={n.state}>
                <td>{n.channel_name || refName(n.channel as never)}</td>
                <td>{n.event in { firing: 1, acknowledged: 1, resolved: 1 } ? t(`alerts.state.${n.event as 'firing'}`) : n.event}</td>
                <td>
                  <span className={`badge ${n.state === 'delivered' ? 'tone-ok' : n.state === 'failed' ? 'tone-bad' : 'tone-neutral'}`}>
                    {n.state in { pending: 1, sending: 1, delivered: 1, failed: 1 } ? t(`alerts.notifications.states.${n.state as 'pending'}`) : n.state}
                  </span>
                  {n.last_error && n.state !== 'delivered' && <div className="small bad-text wrap-any">{n.last_error}</div>}
                </td>
                <td>
                  {attempts.length === 0 ? (
                    <span className="muted small">{t('alerts.notifications.noAttempts')}</span>
                  ) : (
                    <ol className="attempt-list" data-testid="attempts">
                      {attempts.map((a, i) => (
                        <li key={a.id ?? i}>
                          {formatDateTime(a.at)} · {a.ok ? t('alerts.notifications.ok') : t('alerts.notifications.failed')}
                          {a.status_code ? ` · HTTP ${a.status_code}` : ''} · {a.duration_ms} ms
                          {a.error ? ` · ${a.error}` : ''}
                        </li>
                      ))}
                    </ol>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function AlertDetailPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const alert = useAlert(id);
  const ack = useAcknowledge(id);
  const resolve = useResolve(id);
  const managesInfra = useManagesInfrastructure();
  const managed = useManagedWorkspaces();
  const [dialog, setDialog] = useState<'ack' | 'resolve' | 'silence' | null>(null);
  if (!Number.isInteger(id) || id <= 0) return <NotFound />;
  if (alert.isError && alert.error instanceof ApiError && alert.error.status === 404) return <NotFound />;
  const a = alert.data;

  const refusal = (error: ApiError | null): Allowed | null =>
    error && error.status === 403 ? { allowed: false, reason: apiErrorText(t, error) } : null;
  const workspaceId = a ? refId(a.workspace) : null;
  const mayManage = managesInfra || (workspaceId !== null && managed.has(workspaceId));
  const noGrant = workspaceId === null ? t('alerts.detail.operatorsOnly') : t('alerts.detail.needsGrant');
  const closed = a?.state === 'resolved';
  const stateReason = (ok: boolean, why: string): Allowed | null => (ok ? null : { allowed: false, reason: why });
  const ackAllowed: Allowed = a
    ? (refusal(ack.error) ??
      stateReason(
        a.state === 'firing',
        a.state === 'acknowledged' ? t('alerts.detail.alreadyAcknowledged') : a.state === 'pending' ? t('alerts.detail.notFiring') : t('alerts.detail.alreadyResolved'),
      ) ??
      permission(t, a.permissions?.acknowledge ?? a.permissions?.act, mayManage, noGrant))
    : { allowed: false, reason: '' };
  const resolveAllowed: Allowed = a
    ? (refusal(resolve.error) ?? stateReason(!closed, t('alerts.detail.alreadyResolved')) ?? permission(t, a.permissions?.resolve ?? a.permissions?.act, mayManage, noGrant))
    : { allowed: false, reason: '' };
  const silenceAllowed: Allowed = a
    ? (stateReason(!closed, t('alerts.detail.alreadyResolved')) ?? permission(t, a.permissions?.silence ?? a.permissions?.act, mayManage, noGrant))
    : { allowed: false, reason: '' };

  return (
    <section className="page page-wide" data-testid="alert-page">
      <p className="muted small breadcrumbs">
        <Link to="/alerts">{t('alerts.title')}</Link> / #{id}
      </p>
      <header className="page-header page-header-row">
        <div>
          <h1 data-testid="alert-title">{a ? ruleName(a) || t('alerts.list.unnamed', { id }) : `#${id}`}</h1>
          {a && (
            <p>
              <SeverityBadge severity={a.severity} /> <StateBadge state={a.state} />
            </p>
          )}
        </div>
        {a && (
          <div className="alert-actions" data-testid="alert-actions">
            <ActionButton label={t('alerts.detail.acknowledge')} allowed={ackAllowed} testId="alert-acknowledge" onClick={() => setDialog('ack')} />
            <ActionButton label={t('alerts.detail.silence')} allowed={silenceAllowed} testId="alert-silence" onClick={() => setDialog('silence')} />
            <ActionButton label={t('alerts.detail.resolve')} allowed={resolveAllowed} testId="alert-resolve" onClick={() => setDialog('resolve')} />
          </div>
        )}
      </header>
      <AlertsTabs />
      {alert.isPending && <Loading />}
      {alert.isError && <ErrorState error={alert.error} onRetry={() => void alert.refetch()} />}
      {a && (
        <>
          <section className="card">
            <p data-testid="alert-message">{messageText(t, a) || '—'}</p>
            <dl className="facts">
              <div>
                <dt>{t('alerts.col.subject')}</dt>
                <dd className="mono small">{subjectText(a) || '—'}</dd>
              </div>
              <div>
                <dt>{t('alerts.filter.cluster')}</dt>
                <dd>{refName(a.cluster) || '—'}</dd>
              </div>
              <div>
                <dt>{t('alerts.filter.workspace')}</dt>
                <dd>{refName(a.workspace) || '—'}</dd>
              </div>
              <div>
                <dt>{t('alerts.detail.value')}</dt>
                <dd>{a.value ?? '—'}</dd>
              </div>
              <div>
                <dt>{t('alerts.col.started')}</dt>
                <dd>{formatDateTime(a.started_at) ?? '—'}</dd>
              </div>
              <div>
                <dt>{t('alerts.detail.firedAt')}</dt>
                <dd>{formatDateTime(a.fired_at) ?? '—'}</dd>
              </div>
              {a.acknowledged_at && (
                <div>
                  <dt>{t('alerts.state.acknowledged')}</dt>
                  <dd data-testid="alert-acknowledged">
                    {t('alerts.detail.by', { who: userName(a.acknowledged_by) || '—', when: formatDateTime(a.acknowledged_at) ?? '' })}
                    {a.acknowledge_note ? ` — ${a.acknowledge_note}` : ''}
                  </dd>
                </div>
              )}
              {a.resolved_at && (
                <div>
                  <dt>{t('alerts.state.resolved')}</dt>
                  <dd>{t('alerts.detail.by', { who: userName(a.resolved_by) || t('alerts.detail.evaluator'), when: formatDateTime(a.resolved_at) ?? '' })}</dd>
                </div>
              )}
              <div>
                <dt>{t('alerts.detail.fingerprint')}</dt>
                <dd className="mono small wrap-any" title={a.fingerprint}>
                  {a.fingerprint.slice(0, 16)}
                </dd>
              </div>
            </dl>
          </section>
          <section className="card">
            <h2 className="card-title">{t('alerts.detail.history')}</h2>
            {(a.transitions ?? []).length === 0 ? (
              <p className="muted small">{t('alerts.detail.noHistory')}</p>
            ) : (
              <ol className="alert-history" data-testid="alert-history">
                {(a.transitions ?? []).map((tr, i) => (
                  <li key={tr.id ?? i} data-testid="transition" data-to={tr.to_state}>
                    <div>
                      {tr.from_state ? <StateBadge state={tr.from_state} /> : <span className="muted">{t('alerts.detail.new')}</span>} →{' '}
                      <StateBadge state={tr.to_state} />{' '}
                      <span className="small muted" data-testid="transition-who">
                        {t('alerts.detail.by', { who: userName(tr.actor) || t('alerts.detail.evaluator'), when: formatDateTime(tr.at) ?? '' })}
                      </span>
                    </div>
                    {tr.note && (
                      <div className="small" data-testid="transition-note">
                        {tr.note}
                      </div>
                    )}
                  </li>
                ))}
              </ol>
            )}
          </section>
          <section className="card">
            <h2 className="card-title">{t('alerts.detail.notifications')}</h2>
            <Notifications alertId={id} />
          </section>
          {dialog === 'ack' && (
            <NoteDialog
              title={t('alerts.detail.acknowledgeTitle')}
              label={t('alerts.detail.note')}
              submitLabel={t('alerts.detail.acknowledge')}
              testId="ack-dialog"
              pending={ack.isPending}
              error={ack.error && ack.error.status !== 403 ? ack.error : null}
              onSubmit={(note) => ack.mutate(note, { onSettled: (_d, e) => (!e || e.status === 403) && setDialog(null) })}
              onClose={() => setDialog(null)}
            />
          )}
          {dialog === 'resolve' && (
            <NoteDialog
              title={t('alerts.detail.resolveTitle')}
              label={t('alerts.detail.note')}
              submitLabel={t('alerts.detail.resolve')}
              testId="resolve-dialog"
              pending={resolve.isPending}
              error={resolve.error && resolve.error.status !== 403 ? resolve.error : null}
              onSubmit={(note) => resolve.mutate(note, { onSettled: (_d, e) => (!e || e.status === 403) && setDialog(null) })}
              onClose={() => setDialog(null)}
            />
          )}
          {dialog === 'silence' && <SilenceDialog alert={a} onClose={() => setDialog(null)} />}
        </>
      )}
    </section>
  );
}
