/** A destructive confirmation that makes the user type the object's name first. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Dialog } from './Dialog';
import { errorMessage } from './ErrorState';

export function TypeToConfirmDialog({
  title,
  message,
  expected,
  confirmLabel,
  busyLabel,
  busy,
  error,
  onConfirm,
  onCancel,
}: {
  title: string;
  message: string;
  expected: string;
  confirmLabel: string;
  busyLabel: string;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const [typed, setTyped] = useState('');
  const matches = typed === expected;
  return (
    <Dialog
      title={title}
      onClose={onCancel}
      testId="type-confirm-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onCancel} disabled={busy}>
            {t('common.cancel')}
          </button>
          <button
            type="button"
            className="btn btn-danger"
            onClick={onConfirm}
            disabled={busy || !matches}
            data-testid="type-confirm-submit"
          >
            {busy ? busyLabel : confirmLabel}
          </button>
        </>
      }
    >
      <p>{message}</p>
      <div className="field">
        <label htmlFor="type-confirm-input">{t('common.typeToConfirm', { name: expected })}</label>
        <input
          id="type-confirm-input"
          data-testid="type-confirm-input"
          autoComplete="off"
          spellCheck={false}
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
        />
      </div>
      {error ? (
        <p className="alert alert-error" role="alert">
          {errorMessage(error)}
        </p>
      ) : null}
    </Dialog>
  );
}
