/** A destructive confirmation that makes the user type the object's name first. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from './ConfirmDialog';

export function TypeToConfirmDialog({
  expected,
  ...props
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
  return (
    <ConfirmDialog
      {...props}
      confirmDisabled={typed !== expected}
      testId="type-confirm-dialog"
      submitTestId="type-confirm-submit"
    >
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
    </ConfirmDialog>
  );
}
