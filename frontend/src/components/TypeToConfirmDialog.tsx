/** A destructive confirmation that makes the user type the object's name first. */
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from './ConfirmDialog';

export function TypeToConfirmDialog({
  expected,
  children,
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
  /** What the user should know before typing (what the object owns, a choice such as the cascade). */
  children?: ReactNode;
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
      {children}
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
