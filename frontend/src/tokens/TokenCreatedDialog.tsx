/** Shows a new token's secret exactly once, with a copy button. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiTokenCreated } from '../api/types';
import { Dialog } from '../components/Dialog';

type CopyState = 'idle' | 'copied' | 'failed';

export function TokenCreatedDialog({ token, onClose }: { token: ApiTokenCreated; onClose: () => void }) {
  const { t } = useTranslation();
  const [copy, setCopy] = useState<CopyState>('idle');

  const onCopy = async () => {
    try {
      await navigator.clipboard.writeText(token.token);
      setCopy('copied');
    } catch {
      setCopy('failed');
    }
  };

  return (
    <Dialog
      title={t('tokens.created.title')}
      onClose={onClose}
      testId="token-created-dialog"
      footer={
        <button type="button" className="btn btn-primary" onClick={onClose}>
          {t('tokens.created.done')}
        </button>
      }
    >
      <p className="alert alert-warning">{t('tokens.created.warning')}</p>
      <div className="secret-row">
        <input
          className="secret"
          readOnly
          value={token.token}
          aria-label={token.name}
          data-testid="new-token-value"
          onFocus={(e) => e.target.select()}
        />
        <button type="button" className="btn" onClick={() => void onCopy()} data-testid="copy-token">
          {copy === 'copied' ? t('tokens.created.copied') : t('tokens.created.copy')}
        </button>
      </div>
      {copy === 'failed' && <p className="field-errors">{t('tokens.created.copyFailed')}</p>}
    </Dialog>
  );
}
