/**
 * How the builds pages word a run: Cocktail's status column (`DONE`, `RUNNING`, `ERROR 4/6` = failed
 * at step 4 of 6, `CANCELLED`, `QUEUED`), short digests and commits, and step durations.
 */
import type { TFunction } from 'i18next';
import type { BuildRun, RunStatus } from './types';

export type StatusKey = 'done' | 'running' | 'error' | 'cancelled' | 'cancelling' | 'queued';

const KEY: Record<RunStatus, StatusKey> = {
  succeeded: 'done',
  running: 'running',
  failed: 'error',
  cancelled: 'cancelled',
  cancelling: 'cancelling',
  queued: 'queued',
};

export const STATUS_TONE: Record<StatusKey, string> = {
  done: 'tone-ok',
  running: 'tone-warn',
  error: 'tone-bad',
  cancelled: 'tone-neutral',
  cancelling: 'tone-warn',
  queued: 'tone-neutral',
};

export function statusKey(status: RunStatus | string): StatusKey {
  return KEY[status as RunStatus] ?? 'queued';
}

/** The step a failed run stopped at (1-based), or null when the server could not say. */
export function failedAt(run: Pick<BuildRun, 'failed_step' | 'steps_done' | 'steps_total'>): number | null {
  if (typeof run.failed_step === 'number' && run.failed_step > 0) return run.failed_step;
  if (run.steps_total > 0) return Math.min(run.steps_total, run.steps_done + 1);
  return null;
}

/** Cocktail's status text of a run: `DONE`, `RUNNING`, `ERROR 4/6`, `CANCELLED`, `QUEUED`. */
export function runStatusText(t: TFunction, run: Pick<BuildRun, 'status' | 'failed_step' | 'steps_done' | 'steps_total'>): string {
  const key = statusKey(run.status);
  if (key === 'error') {
    const step = failedAt(run);
    return step === null ? t('builds.status.errorPlain') : t('builds.status.error', { step, total: run.steps_total });
  }
  return t(`builds.status.${key}`);
}

export const RUN_ACTIVE: readonly RunStatus[] = ['queued', 'running', 'cancelling'];
export const isActive = (status: RunStatus) => RUN_ACTIVE.includes(status);

/** `sha256:0123456789ab` (12 hex digits), as registries and Docker show a digest. */
export function shortDigest(digest: string | null | undefined): string {
  if (!digest) return '';
  const [algo, hex] = digest.includes(':') ? digest.split(':', 2) : ['sha256', digest];
  return `${algo}:${(hex ?? '').slice(0, 12)}`;
}

export const shortCommit = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : '');

/** `host/repo:tag`, or the repository alone before the tag is known. */
export function imageRef(run: Pick<BuildRun, 'image_repository' | 'image_tag'>): string {
  if (!run.image_repository) return '';
  return run.image_tag ? `${run.image_repository}:${run.image_tag}` : run.image_repository;
}

/** Seconds from `started` to `finished` (or `now` while it runs); null without a start. */
export function elapsed(started: string | null | undefined, finished: string | null | undefined, now: number): number | null {
  if (!started) return null;
  const from = Date.parse(started);
  const to = finished ? Date.parse(finished) : now;
  if (Number.isNaN(from) || Number.isNaN(to)) return null;
  return Math.max(0, Math.round((to - from) / 1000));
}

/** `1h 02m`, `3m 05s`, `12s` (in the UI language): from `started` to `finished` (or `now`). */
export function duration(t: TFunction, started: string | null | undefined, finished: string | null | undefined, now: number): string {
  const s = elapsed(started, finished, now);
  if (s === null) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s >= 3600) return t('builds.duration.hours', { h: Math.floor(s / 3600), m: pad(Math.floor((s % 3600) / 60)) });
  if (s >= 60) return t('builds.duration.minutes', { m: Math.floor(s / 60), s: pad(s % 60) });
  return t('builds.duration.seconds', { s });
}
