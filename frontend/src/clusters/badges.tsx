/** Status, freshness and sync-state badges shared by the clusters pages. */
import { useTranslation } from 'react-i18next';
import { effectiveFreshness, relativeTime } from './format';
import type { Cluster, ClusterStatus, SyncStateName } from './types';

export function StatusBadge({ status, message }: { status: ClusterStatus; message?: string }) {
  const { t } = useTranslation();
  return (
    <span className={`badge status-${status}`} title={message || undefined} data-testid="cluster-status" data-status={status}>
      {t(`clusters.status.${status}`)}
    </span>
  );
}

export function FreshnessBadge({ cluster, now }: { cluster: Cluster; now: number }) {
  const { t, i18n } = useTranslation();
  const freshness = effectiveFreshness(cluster, now);
  const when = relativeTime(cluster.last_sync, now, i18n.language);
  return (
    <span className="freshness" data-testid="cluster-freshness" data-freshness={freshness}>
      <span className={`fresh-dot fresh-${freshness}`} aria-hidden="true" />
      <span>{when ?? t('common.never')}</span>
      {freshness !== 'fresh' && <span className={`badge fresh-badge-${freshness}`}>{t(`clusters.freshness.${freshness}`)}</span>}
    </span>
  );
}

export function SyncBadge({ state }: { state: SyncStateName | string }) {
  const { t } = useTranslation();
  const known = ['syncing', 'synced', 'stale', 'unreachable', 'unauthorized', 'forbidden'] as const;
  const s = known.find((k) => k === state);
  return <span className={`badge sync-${state}`}>{s ? t(`clusters.sync.${s}`) : state}</span>;
}

/** Phase/status text of a pod or object, coloured by how healthy it sounds. */
export function phaseTone(text: string): 'ok' | 'warn' | 'bad' | 'neutral' {
  const s = text.toLowerCase();
  if (['running', 'succeeded', 'completed', 'active', 'bound', 'available', 'ready', 'normal'].includes(s)) return 'ok';
  if (['pending', 'progressing', 'containercreating', 'terminating', 'podinitializing', 'released', 'notready'].includes(s))
    return 'warn';
  if (s.includes('error') || s.includes('backoff') || s.includes('fail') || s === 'degraded' || s === 'lost' || s === 'warning' || s === 'unknown' || s === 'evicted' || s === 'oomkilled')
    return 'bad';
  return 'neutral';
}

export function PhaseBadge({ text }: { text: string }) {
  return <span className={`badge tone-${phaseTone(text)}`}>{text || '—'}</span>;
}
