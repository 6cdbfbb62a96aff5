/** A confirmation for a destructive action: cancel, confirm, and the error if it failed.
 *  ``children`` adds content (an input, say) and ``confirmDisabled`` holds the button until it is satisfied. */
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Dialog } from './Dialog';
import { apiErrorText } from '../lib/messages';

export function ConfirmDialog({
  title,
  message,
  confirmLabel,
  busyLabel,
  busy,
  error,
  onConfirm,
  onCancel,
  confirmDisabled = false,
  testId = 'confirm-dialog',
  submitTestId,
  children,
}: {
  title: string;
  message: string;
  confirmLabel: string;
  busyLabel: string;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
  confirmDisabled?: boolean;
  testId?: string;
  submitTestId?: string;
  children?: ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <Dialog
      title={title}
      onClose={onCancel}
      testId={testId}
      footer={
        <>
          <button type="button" className="btn" onClick={onCancel} disabled={busy}>
            {t('common.cancel')}
          </button>
          <button
            type="button"
            className="btn btn-danger"
            onClick={onConfirm}
            disabled={busy || confirmDisabled}
            data-testid={submitTestId}
          >
            {busy ? busyLabel : confirmLabel}
          </button>
        </>
      }
    >
      <p>{message}</p>
      {children}
      {error ? (
        <p className="alert alert-error" role="alert">
          {apiErrorText(t, error)}
        </p>
      ) : null}
    </Dialog>
  );
}
