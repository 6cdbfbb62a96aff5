/**
 * The activity timeline of an object, a cluster, a service map or a workspace (docs/activity.md):
 * what people did through the portal, Kubernetes events, release revisions and rollouts, shells
 * opened in pods and changes made outside the portal, newest first, one keyset-paged list ("load
 * more"). Filter by source; Warning entries stand out; a change with a diff opens it in place.
 *
 * Live: the first page names the socket groups that feed this timeline (`groups`); the component
 * listens to each and refetches (debounced) when an event may have added an entry, or when a
 * group was resynced or revoked. The query cache stays the only store.
 */
import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { relativeTime, useNow } from '../clusters/format';
import { formatDateTime } from '../lib/format';
import { messageText } from '../lib/messages';
import { useSubscription, type SocketEvent } from '../lib/socket';
import { UnifiedDiff } from '../objects/UnifiedDiff';
import { SOURCES, cursorOf, fetchDiff, fetchTimeline, scopeQuery, type Source, type TimelineEntry, type TimelineScope } from './api';
import './timeline.css';

export type { TimelineScope } from './api';

export const activityKey = ['activity'] as const;

/** The socket events after which a timeline may hold new entries. */
const REFETCH_ON = new Set([
  'objects.action',
  'activity.entry',
  'release.updated',
  'revision.updated',
  'release.deleted',
  'rollout.updated',
  'rollout.deleted',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `event` may have added a timeline entry (an `objects.changed` counts when it carries Events). */
export function addsEntries(event: SocketEvent): boolean {
  if (REFETCH_ON.has(event.type)) return true;
  if (event.type !== 'objects.changed' || !isRecord(event.data)) return false;
  const changes = event.data.changes;
  return Array.isArray(changes) && changes.some((c) => isRecord(c) && c.kind === 'Event');
}

function LiveGroup({ group, onChange }: { group: string; onChange: () => void }) {
  useSubscription(
    group,
    (event) => {
      if (addsEntries(event)) onChange();
    },
    onChange,
  );
  return null;
}

const show = (value: unknown): string => (value === null || value === undefined ? '' : String(value));

/** What happened, in the reader's language. */
function what(t: TFunction, e: TimelineEntry): string {
  const who = e.actor || t('timeline.someone');
  const object = [e.kind, e.name].filter(Boolean).join(' ');
  switch (e.source) {
    case 'portal':
      return t(`timeline.portal.${e.action}` as 'timeline.portal.apply', { defaultValue: t('timeline.portal.other', { actor: who, object, action: e.action }), actor: who, object });
    case 'outside':
      return t('timeline.outside', { manager: e.actor, object });
    case 'exec': {
      // A refusal or a shell that never started (or broke off) is not "opened a shell".
      const key = e.status === 'denied' ? 'timeline.execDenied' : e.status === 'failure' ? 'timeline.execFailed' : 'timeline.exec';
      return t(key, { actor: who, pod: e.name, container: show(e.detail.container) });
    }
    case 'release':
      if (e.kind === 'Rollout') return t('timeline.rollout', { actor: who, release: e.name, version: show(e.detail.version) });
      return t(`timeline.revision.${e.action}` as 'timeline.revision.install', {
        defaultValue: t('timeline.revision.upgrade', { actor: who, release: e.name, revision: show(e.detail.revision), version: show(e.detail.version) }),
        actor: who,
        release: e.name,
        revision: show(e.detail.revision),
        version: show(e.detail.version),
      });
    case 'event':
      return `${e.action}: ${e.summary}`;
  }
}

function DiffPanel({ id }: { id: string }) {
  const { t } = useTranslation();
  const diff = useQuery({ queryKey: [...activityKey, 'diff', id], queryFn: ({ signal }) => fetchDiff(id, signal), staleTime: Infinity });
  if (diff.isPending) return <Loading />;
  if (diff.isError) return <ErrorState error={diff.error} onRetry={() => void diff.refetch()} />;
  const before = diff.data.before;
  return (
    <div className="timeline-diff" data-testid={`timeline-diff-${id}`}>
      {id.startsWith('outside:') && (
        <p className="small muted">
          {before
            ? t('timeline.diffBefore', { manager: before.manager, time: formatDateTime(before.time) ?? before.time })
            : t('timeline.diffNoBefore')}
        </p>
      )}
      <UnifiedDiff diff={diff.data.diff} testId={`timeline-unified-diff-${id}`} />
    </div>
  );
}

function Entry({ entry, now }: { entry: TimelineEntry; now: number }) {
  const { t, i18n } = useTranslation();
  const [open, setOpen] = useState(false);
  const message = entry.source === 'event' || entry.source === 'outside' ? '' : messageText(t, { message: '', message_code: entry.message_code, message_params: entry.message_params });
  const status = entry.status && entry.source !== 'event' ? entry.status : '';
  return (
    <li className={`timeline-entry${entry.type === 'Warning' ? ' timeline-warning' : ''}`} data-testid={`timeline-entry-${entry.id}`} data-source={entry.source} data-type={entry.type}>
      <div className="timeline-line">
        <time className="timeline-time small muted" dateTime={entry.time} title={formatDateTime(entry.time) ?? entry.time}>
          {relativeTime(entry.time, now, i18n.language) ?? entry.time}
        </time>
        <span className={`badge timeline-source timeline-source-${entry.source}`}>{t(`timeline.source.${entry.source}`)}</span>
        {entry.type === 'Warning' && <span className="badge timeline-warning-badge">{t('timeline.warning')}</span>}
        <span className="timeline-what" data-testid="timeline-what">
          {what(t, entry)}
        </span>
        {status && <span className="small muted timeline-status">{t(`timeline.status.${status}` as 'timeline.status.succeeded', { defaultValue: status })}</span>}
        {entry.has_diff && (
          <button type="button" className="btn btn-small" aria-expanded={open} data-testid={`timeline-diff-button-${entry.id}`} onClick={() => setOpen((o) => !o)}>
            {open ? t('timeline.hideDiff') : t('timeline.diff')}
          </button>
        )}
      </div>
      <div className="timeline-meta small muted">
        {entry.source !== 'event' && entry.actor && <span className="timeline-who">{entry.actor}</span>}
        {entry.source === 'event' && entry.actor && <span className="timeline-who">{t('timeline.reportedBy', { source: entry.actor })}</span>}
        {entry.namespace && <span className="mono">{entry.namespace}</span>}
        {entry.source === 'event' && entry.kind && <span className="mono">{`${entry.kind}/${entry.name}`}</span>}
        {message && <span className="timeline-message">{message}</span>}
      </div>
      {open && <DiffPanel id={entry.id} />}
    </li>
  );
}

export function Timeline({ scope, pageSize = 50 }: { scope: TimelineScope; pageSize?: number }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const now = useNow(30_000);
  const [sources, setSources] = useState<readonly Source[]>(SOURCES);
  const scopeKey = JSON.stringify(scopeQuery(scope));
  const queryKey = useMemo(() => [...activityKey, scopeKey, sources.join(','), pageSize] as const, [scopeKey, sources, pageSize]);
  const timeline = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam, signal }) => fetchTimeline(scope, sources, pageParam, { pageSize, signal }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => cursorOf(last.next),
  });

  // Live: refetch at most once a second, whatever the burst of events.
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refetch = useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void queryClient.invalidateQueries({ queryKey: [...activityKey, scopeKey] });
    }, 1000);
  }, [queryClient, scopeKey]);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);

  const groups = timeline.data?.pages[0]?.groups ?? [];
  const entries = timeline.data?.pages.flatMap((p) => p.results) ?? [];
  const toggle = (source: Source) =>
    setSources((current) => {
      const next = current.includes(source) ? current.filter((s) => s !== source) : SOURCES.filter((s) => s === source || current.includes(s));
      return next.length ? next : current; // at least one source stays on
    });

  return (
    <section className="timeline" data-testid="timeline">
      {groups.map((group) => (
        <LiveGroup key={group} group={group} onChange={refetch} />
      ))}
      <div className="timeline-filters chips" role="group" aria-label={t('timeline.filterLabel')}>
        {SOURCES.map((source) => (
          <label key={source} className="chip timeline-filter">
            <input type="checkbox" checked={sources.includes(source)} onChange={() => toggle(source)} data-testid={`timeline-filter-${source}`} />{' '}
            {t(`timeline.source.${source}`)}
          </label>
        ))}
      </div>
      {timeline.isPending && <Loading />}
      {timeline.isError && <ErrorState error={timeline.error} onRetry={() => void timeline.refetch()} />}
      {timeline.data && entries.length === 0 && (
        <p className="muted empty-line" data-testid="timeline-empty">
          {t('timeline.empty')}
        </p>
      )}
      {entries.length > 0 && (
        <ol className="timeline-list" aria-label={t('timeline.title')}>
          {entries.map((entry) => (
            <Entry key={entry.id} entry={entry} now={now} />
          ))}
        </ol>
      )}
      {timeline.hasNextPage && (
        <button
          type="button"
          className="btn btn-small"
          data-testid="timeline-more"
          disabled={timeline.isFetchingNextPage}
          onClick={() => void timeline.fetchNextPage()}
        >
          {timeline.isFetchingNextPage ? t('timeline.loading') : t('timeline.loadMore')}
        </button>
      )}
    </section>
  );
}
