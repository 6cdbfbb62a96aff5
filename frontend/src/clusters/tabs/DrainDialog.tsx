/**
 * The drain confirmation. Like `kubectl drain`, a drain refuses pods that no controller recreates
 * unless `force` is given, and pods with emptyDir data unless `delete_emptydir_data` is; both are
 * off by default. The dialog reads the node's pods live (drain-preview), lists the ones that would
 * block the drain, and, once an option is ticked, the pods that would be lost for good — before
 * the operator confirms.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { apiErrorText } from '../../lib/messages';
import { useDrainPreview } from '../queries';
import type { DrainNeed, DrainOptions } from '../types';

const NEEDS: DrainNeed[] = ['force', 'delete_emptydir_data'];

export function DrainDialog({
  clusterId,
  node,
  busy,
  error,
  onConfirm,
  onCancel,
}: {
  clusterId: number;
  node: string;
  busy: boolean;
  error: unknown;
  onConfirm: (options: DrainOptions) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const preview = useDrainPreview(clusterId, node);
  const [options, setOptions] = useState<DrainOptions>({ force: false, delete_emptydir_data: false });
  const pods = preview.data?.pods ?? [];
  const needing = pods.filter((p) => p.needs.length > 0 && (p.action === 'blocked' || p.action === 'evict'));
  const blocking = needing.filter((p) => p.needs.some((n) => !options[n]));
  const lost = needing.filter((p) => p.needs.every((n) => options[n]));
  const evicting = pods.filter((p) => p.action === 'evict' || p.action === 'blocked').length;
  const skipped = pods.filter((p) => p.action === 'skip').length;
  const offered = NEEDS.filter((n) => needing.some((p) => p.needs.includes(n)));
  return (
    <ConfirmDialog
      title={t('clusters.nodeOp.drain')}
      message={t('clusters.nodeOpConfirm.drain', { node })}
      confirmLabel={t('clusters.nodeOp.drain')}
      busyLabel={t('clusters.working')}
      busy={busy}
      error={error}
      confirmDisabled={preview.isPending || blocking.length > 0}
      testId="drain-dialog"
      submitTestId="drain-submit"
      onCancel={onCancel}
      onConfirm={() => onConfirm(options)}
    >
      {preview.isPending && <p className="muted small">{t('clusters.drain.loading')}</p>}
      {preview.isError && (
        <p className="alert alert-warning small" data-testid="drain-preview-error">
          {t('clusters.drain.previewFailed', { error: apiErrorText(t, preview.error) })}
        </p>
      )}
      {preview.data && (
        <p className="small" data-testid="drain-summary">
          {t('clusters.drain.summary', { evict: evicting, skipped })}
        </p>
      )}
      {offered.map((need) => (
        <label key={need} className="checkbox">
          <input
            type="checkbox"
            data-testid={`drain-option-${need}`}
            checked={options[need]}
            onChange={(e) => setOptions((o) => ({ ...o, [need]: e.target.checked }))}
          />{' '}
          {t(`clusters.drain.option.${need}`)}
        </label>
      ))}
      {blocking.length > 0 && (
        <div className="alert alert-warning small" data-testid="drain-blocking">
          <p>{t('clusters.drain.blocking', { count: blocking.length })}</p>
          <ul className="plain-list">
            {blocking.map((p) => (
              <li key={p.pod} data-testid={`drain-blocking-${p.pod}`}>
                <span className="mono">{p.pod}</span>: {p.needs.filter((n) => !options[n]).map((n) => t(`clusters.drain.needs.${n}`)).join('; ')}
              </li>
            ))}
          </ul>
        </div>
      )}
      {lost.length > 0 && (
        <div className="alert alert-error small" data-testid="drain-lost">
          <p>{t('clusters.drain.lost', { count: lost.length })}</p>
          <ul className="plain-list">
            {lost.map((p) => (
              <li key={p.pod} data-testid={`drain-lost-${p.pod}`}>
                <span className="mono">{p.pod}</span>: {p.needs.map((n) => t(`clusters.drain.loses.${n}`)).join('; ')}
              </li>
            ))}
          </ul>
        </div>
      )}
    </ConfirmDialog>
  );
}
