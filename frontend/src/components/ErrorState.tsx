import { useTranslation } from 'react-i18next';
import { apiErrorText } from '../lib/messages';

/** The error's English message (the server's detail for an API error); `apiErrorText` translates it. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  return (
    <div className="alert alert-error" role="alert">
      <span>{t('common.error', { message: apiErrorText(t, error) })}</span>
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}
