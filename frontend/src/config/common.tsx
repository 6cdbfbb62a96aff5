/** Pieces shared by the config, autoscaling and save-as-package views. */
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/errors';
import { apiErrorText } from '../lib/messages';

/**
 * An API error with a sentence for the statuses these pages expect: 403 (the role lacks the
 * grant), 409 (exists / conflict), 502 (the cluster refused), 503/504 (the cluster did not answer),
 * followed by the server's own `detail`. Field errors shown at their fields are left out.
 */
export function ApiAlert({ error, testId, skipFields = [] }: { error: unknown; testId: string; skipFields?: string[] }) {
  const { t } = useTranslation();
  if (!error) return null;
  if (!(error instanceof ApiError)) {
    return (
      <p className="alert alert-error" role="alert" data-testid={testId}>
        {apiErrorText(t, error)}
      </p>
    );
  }
  const known = [403, 404, 409, 502, 503, 504].includes(error.status) ? t(`config.status.${error.status}` as 'config.status.403') : '';
  const fields = Object.entries(error.fieldErrors)
    .filter(([k]) => !skipFields.includes(k))
    .map(([k, m]) => (k === 'non_field_errors' ? m.join(' ') : `${k}: ${m.join(' ')}`));
  const parts = [known, apiErrorText(t, error), ...fields].filter((p, i, all) => p && all.indexOf(p) === i);
  if (parts.length === 0 && Object.keys(error.fieldErrors).length > 0) return null;
  return (
    <p className="alert alert-error" role="alert" data-testid={testId} data-status={error.status}>
      {parts.join(' · ') || apiErrorText(t, error)}
    </p>
  );
}

export const fieldErrors = (error: unknown, name: string): string[] => (error instanceof ApiError ? error.forField(name) : []);
