/**
 * Where a package version's chart archive stands (docs/catalog-api.md, "archive_status"): a GET of
 * a version never fetches it; a task does, and until it is stored the readme, values and form are
 * empty. `useVersion` polls while it is fetching; this says so, or why the last fetch failed.
 */
import { useTranslation } from 'react-i18next';
import { serverText } from '../lib/messages';
import type { Version } from './types';

export function ArchiveStatus({ version }: { version: Version | undefined }) {
  const { t } = useTranslation();
  if (!version || !version.archive_status || version.archive_status === 'stored') return null;
  if (version.archive_status === 'failed') {
    return (
      <p className="alert alert-error" role="alert" data-testid="archive-failed">
        {t('catalog.archive.failed', { message: serverText(t, { code: version.archive_message_code, text: version.archive_message ?? '' }) })}
      </p>
    );
  }
  return (
    <p className="muted" role="status" data-testid="archive-fetching">
      {t('catalog.archive.fetching')}
    </p>
  );
}
