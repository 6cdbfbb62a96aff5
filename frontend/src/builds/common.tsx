/** Pieces the builds pages share: the run status badge (Cocktail's words) and a copy button. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { messageText } from '../lib/messages';
import { STATUS_TONE, runStatusText, statusKey } from './format';
import type { BuildRun } from './types';
import './builds.css';

export function RunStatusBadge({
  run,
  testId = 'run-status',
}: {
  run: Pick<BuildRun, 'status' | 'failed_step' | 'steps_done' | 'steps_total'> & Partial<Pick<BuildRun, 'message' | 'message_code' | 'message_params'>>;
  testId?: string;
}) {
  const { t } = useTranslation();
  const key = statusKey(run.status);
  return (
    <span className={`badge build-status ${STATUS_TONE[key]}`} data-testid={testId} data-status={run.status} title={messageText(t, run) || undefined}>
      {runStatusText(t, run)}
    </span>
  );
}

type CopyState = 'idle' | 'copied' | 'failed';

/** Copies `value` to the clipboard; says whether it worked. */
export function CopyButton({ value, testId, label }: { value: string; testId: string; label?: string }) {
  const { t } = useTranslation();
  const [state, setState] = useState<CopyState>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <button type="button" className="btn btn-small" data-testid={testId} data-copy={state} onClick={() => void copy()} title={value}>
      {state === 'copied' ? t('builds.copied') : state === 'failed' ? t('builds.copyFailed') : (label ?? t('builds.copy'))}
    </button>
  );
}
