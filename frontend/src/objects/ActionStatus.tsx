/**
 * One ObjectAction as it runs: its status (from the POST's answer, then `objects.action` events,
 * polled as a fallback) and its message in the reader's language. What the action changed shows in
 * the views through the watcher; this line only says whether the portal's part went through.
 */
import { useTranslation } from 'react-i18next';
import { messageText } from '../lib/messages';
import { isFinal, useActionEvents, useObjectAction } from './queries';
import type { ActionStatus as Status, ObjectAction } from './types';

const TONE: Record<Status, string> = {
  pending: 'badge-live',
  running: 'badge-live',
  succeeded: 'badge-success',
  failed: 'badge-failure',
  conflict: 'tone-warn',
};

export function ActionStatusLine({
  clusterId,
  namespace,
  actionId,
  onDismiss,
}: {
  clusterId: number;
  namespace: string;
  actionId: number;
  onDismiss?: () => void;
}) {
  const { t } = useTranslation();
  const query = useObjectAction(actionId);
  const action: ObjectAction | undefined = query.data;
  useActionEvents(clusterId, namespace, !isFinal(action));
  if (!action) return null;
  const message = messageText(t, action);
  return (
    <div
      className={`object-action-status ${action.status === 'failed' ? 'alert alert-error' : action.status === 'conflict' ? 'alert alert-warning' : ''}`}
      role="status"
      data-testid="action-status"
      data-action={action.action}
      data-status={action.status}
    >
      <span className={`badge ${TONE[action.status]}`}>{t(`objects.status.${action.status}`)}</span>{' '}
      <span>
        {t('objects.actionLine', { action: t(`objects.actionName.${action.action}`), kind: action.kind, name: action.name })}
      </span>
      {message && <span className="muted"> · {message}</span>}
      {onDismiss && isFinal(action) && (
        <button type="button" className="link-button small" onClick={onDismiss} data-testid="action-status-dismiss">
          {t('common.close')}
        </button>
      )}
    </div>
  );
}
