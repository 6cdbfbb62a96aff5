/**
 * The footer most dialogs share: Cancel, and a primary button that submits the dialog's form
 * (``form``) or runs ``onSubmit``, saying "Saving…" while ``pending``.
 */
import { useTranslation } from 'react-i18next';

export function DialogActions({
  onCancel,
  pending,
  disabled = false,
  label,
  testId,
  form,
  onSubmit,
}: {
  onCancel: () => void;
  pending: boolean;
  disabled?: boolean;
  label?: string;
  testId: string;
  form?: string;
  onSubmit?: () => void;
}) {
  const { t } = useTranslation();
  return (
    <>
      <button type="button" className="btn" onClick={onCancel}>
        {t('common.cancel')}
      </button>
      <button
        type={form ? 'submit' : 'button'}
        form={form}
        className="btn btn-primary"
        data-testid={testId}
        disabled={pending || disabled}
        onClick={form ? undefined : onSubmit}
      >
        {pending ? t('common.saving') : (label ?? t('common.save'))}
      </button>
    </>
  );
}
