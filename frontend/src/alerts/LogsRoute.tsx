/**
 * /logs/:clusterId/:namespace/:kind/:name — follows the log of one pod (`kind` = `pod`) or of every
 * pod of a workload (`kind` = Deployment, StatefulSet …) over `/ws/logs/` (LogSession). Each line
 * is tagged with its pod (a colour per pod) and container. Options: container, tail lines, since,
 * the previous container (changing one starts a new follow), and timestamps (shown or not: the
 * follow always asks for them).
 *
 * The browser holds a bounded ring (10,000 entries, RingBuffer) and the DOM only the rows in view
 * (a fixed row height, like components/VirtualList); "N lines skipped" markers show where the
 * server dropped lines for a slow or paused reader. Pause/resume, search within the buffer (hits
 * highlighted, next/previous), download of the newest N lines, reconnect on drop.
 */
import type { TFunction } from 'i18next';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { visibleRange } from '../components/VirtualList';
import { serverText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { DEFAULT_CAPACITY, LogSession, downloadText, logsSocketUrl, searchBuffer, type LogEntry, type SessionSnapshot } from './logSession';
import type { FollowRequest } from './types';
import './alerts.css';

/** The words for why one pod's stream ended: its own reason, else the error code's text, else the code. */
function endReason(t: TFunction, reason: string | undefined): string {
  if (!reason) return '—';
  return t(`alerts.logs.endReasons.${reason}`, { defaultValue: t(`codes.${reason}`, { defaultValue: reason }) });
}

const ROW_HEIGHT = 18;
const VIEW_HEIGHT = 560;
const STICK_SLACK = 24;
const TAIL_CHOICES = [100, 200, 500, 1000, 5000] as const;
const SINCE_CHOICES = [0, 300, 900, 3600, 21600, 86400] as const;
const DOWNLOAD_CHOICES = [1000, 5000, 10000] as const;
const POD_COLOURS = 8;

/** Workload kinds the log viewer follows, by their lower-case spelling in a URL. */
const WORKLOAD_KINDS: Record<string, string> = {
  deployment: 'Deployment',
  statefulset: 'StatefulSet',
  daemonset: 'DaemonSet',
  replicaset: 'ReplicaSet',
  job: 'Job',
  cronjob: 'CronJob',
};

/** `pod` for one pod, else the workload kind as Kubernetes spells it; null when unknown. */
export function followKind(kind: string): string | null {
  const lower = kind.toLowerCase();
  if (lower === 'pod') return 'pod';
  return WORKLOAD_KINDS[lower] ?? null;
}

/** The viewer's path for a pod or a workload. */
export function logsPath(clusterId: number, namespace: string, kind: string, name: string): string {
  const seg = encodeURIComponent;
  return `/logs/${clusterId}/${seg(namespace)}/${seg(kind)}/${seg(name)}`;
}

interface Options {
  container: string;
  tailLines: number;
  sinceSeconds: number;
  previous: boolean;
  timestamps: boolean;
}

function Highlight({ text, query }: { text: string; query: string }) {
  const q = query.trim().toLowerCase();
  if (!q) return <>{text}</>;
  const parts: ReactNode[] = [];
  const lower = text.toLowerCase();
  let at = 0;
  let index = lower.indexOf(q);
  while (index >= 0) {
    if (index > at) parts.push(text.slice(at, index));
    parts.push(<mark key={index}>{text.slice(index, index + q.length)}</mark>);
    at = index + q.length;
    index = lower.indexOf(q, at);
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}

function EntryRow({
  entry,
  session,
  top,
  query,
  current,
  multiPod,
  timestamps,
}: {
  entry: LogEntry;
  session: LogSession;
  top: number;
  query: string;
  current: boolean;
  multiPod: boolean;
  timestamps: boolean;
}) {
  const { t } = useTranslation();
  const style = { top, height: ROW_HEIGHT };
  switch (entry.kind) {
    case 'line':
      return (
        <div className={current ? 'log-row log-current' : 'log-row'} style={style} data-testid="log-line" data-pod={entry.pod} data-seq={entry.seq}>
          {(multiPod || entry.pod) && <span className={`log-pod pod-c${session.colourOf(entry.pod) % POD_COLOURS}`}>{entry.pod}</span>}
          {entry.container && <span className="log-container">{entry.container}</span>}
          {timestamps && entry.ts && <span className="log-ts">{entry.ts}</span>}
          <span className="log-text">
            <Highlight text={entry.text} query={query} />
          </span>
        </div>
      );
    case 'skipped':
      return (
        <div className="log-row log-marker" style={style} data-testid="logs-skipped">
          {t('alerts.logs.skipped', { count: entry.count })}
        </div>
      );
    case 'pods':
      return (
        <div className="log-row log-marker-info" style={style} data-testid="logs-pods-changed">
          {[
            entry.added.length ? t('alerts.logs.podsAdded', { pods: entry.added.join(', ') }) : '',
            entry.removed.length ? t('alerts.logs.podsRemoved', { pods: entry.removed.join(', ') }) : '',
          ]
            .filter(Boolean)
            .join(' · ')}
        </div>
      );
    case 'ended':
      return (
        <div className="log-row log-marker-info" style={style} data-testid="logs-ended">
          {t('alerts.logs.ended', { pod: entry.container ? `${entry.pod}/${entry.container}` : entry.pod, reason: endReason(t, entry.reason) })}
        </div>
      );
    case 'reconnected':
      return (
        <div className="log-row log-marker-info" style={style} data-testid="logs-reconnected">
          {t('alerts.logs.reconnected')}
        </div>
      );
  }
}

/** The windowed view of the ring: only the rows in view are in the DOM. */
function LogView({
  session,
  snap,
  query,
  currentSeq,
  scrollToSeq,
  multiPod,
  timestamps,
}: {
  session: LogSession;
  snap: SessionSnapshot;
  query: string;
  currentSeq: number | null;
  scrollToSeq: { seq: number; n: number } | null;
  multiPod: boolean;
  timestamps: boolean;
}) {
  const { t } = useTranslation();
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const atEnd = useRef(true);
  const buffer = session.buffer;
  const count = buffer.size;
  const { start, end } = visibleRange(scrollTop, VIEW_HEIGHT, ROW_HEIGHT, count, 10);
  const onScroll = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight <= STICK_SLACK;
  }, []);
  // keep the newest line in view while the reader is at the end; a reader scrolled up keeps
  // looking at the same lines while the ring drops older ones above them
  const firstSeen = useRef(buffer.firstSeq);
  useLayoutEffect(() => {
    const el = ref.current;
    const dropped = buffer.firstSeq - firstSeen.current;
    firstSeen.current = buffer.firstSeq;
    if (!el) return;
    if (atEnd.current) {
      el.scrollTop = el.scrollHeight;
      setScrollTop(el.scrollTop);
    } else if (dropped > 0) {
      el.scrollTop = Math.max(0, el.scrollTop - dropped * ROW_HEIGHT);
      setScrollTop(el.scrollTop);
    }
  }, [snap.version, scrollToSeq, buffer]);
  // bring a search hit into view
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || !scrollToSeq) return;
    const index = scrollToSeq.seq - buffer.firstSeq;
    if (index < 0 || index >= buffer.size) return;
    const top = index * ROW_HEIGHT;
    if (top < el.scrollTop || top + ROW_HEIGHT > el.scrollTop + el.clientHeight) {
      el.scrollTop = Math.max(0, top - el.clientHeight / 2);
      setScrollTop(el.scrollTop);
    }
    atEnd.current = false;
  }, [scrollToSeq, buffer]);
  const rows = buffer.slice(start, end);
  return (
    <div
      ref={ref}
      className="logs-view"
      style={{ height: VIEW_HEIGHT }}
      onScroll={onScroll}
      data-testid="logs-view"
      data-total={count}
      role="log"
      aria-live="off"
      aria-label={t('alerts.logs.viewLabel')}
    >
      <div style={{ height: count * ROW_HEIGHT, position: 'relative', minWidth: '100%' }}>
        {rows.map((entry, offset) => (
          <EntryRow
            key={entry.seq}
            entry={entry}
            session={session}
            top={(start + offset) * ROW_HEIGHT}
            query={query}
            current={entry.seq === currentSeq}
            multiPod={multiPod}
            timestamps={timestamps}
          />
        ))}
      </div>
    </div>
  );
}

function useSession(follow: Omit<FollowRequest, 'type'> | null): LogSession | null {
  const [session, setSession] = useState<LogSession | null>(null);
  const key = follow ? JSON.stringify(follow) : '';
  useEffect(() => {
    if (!key) return undefined;
    const next = new LogSession({ url: logsSocketUrl(), follow: JSON.parse(key) as Omit<FollowRequest, 'type'>, capacity: DEFAULT_CAPACITY });
    setSession(next);
    next.start();
    return () => next.stop();
  }, [key]);
  return session;
}

const EMPTY_SNAPSHOT: SessionSnapshot = { version: 0, status: 'connecting', paused: false, error: null, pods: [], podOrder: [], skipped: 0, received: 0, reconnects: 0 };
const noopSubscribe = () => () => undefined;

function saveFile(text: string, name: string): void {
  const blob = new Blob([text], { type: 'text/plain;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}

export function LogsRoute() {
  const { t } = useTranslation();
  const params = useParams();
  const clusterId = Number(params.clusterId);
  const namespace = params.namespace ?? '';
  const name = params.name ?? '';
  const kind = followKind(params.kind ?? '');
  const [options, setOptions] = useState<Options>({ container: '', tailLines: 200, sinceSeconds: 0, previous: false, timestamps: false });
  const [query, setQuery] = useState('');
  const [hit, setHit] = useState(0);
  const [jump, setJump] = useState<{ seq: number; n: number } | null>(null);
  const [downloadN, setDownloadN] = useState<number>(DOWNLOAD_CHOICES[0]);
  const valid = Number.isInteger(clusterId) && clusterId > 0 && !!namespace && !!name && kind !== null;

  const follow = useMemo<Omit<FollowRequest, 'type'> | null>(() => {
    if (!valid) return null;
    const request: Omit<FollowRequest, 'type'> = {
      cluster: clusterId,
      namespace,
      ...(kind === 'pod' ? { pod: name } : { workload: { kind: kind ?? '', name } }),
      tailLines: options.tailLines,
    };
    if (options.container) request.container = options.container;
    if (options.sinceSeconds) request.sinceSeconds = options.sinceSeconds;
    if (options.previous) request.previous = true;
    // always stamped: a reconnect asks from the newest line's time and skips what it holds; the
    // Timestamps option only shows them
    request.timestamps = true;
    return request;
  }, [valid, clusterId, namespace, kind, name, options.container, options.tailLines, options.sinceSeconds, options.previous]);
  const session = useSession(follow);
  const snap = useSyncExternalStore(session?.subscribe ?? noopSubscribe, session?.snapshot ?? (() => EMPTY_SNAPSHOT));

  // search: recomputed as the buffer changes; the current hit is kept by its seq
  const matches = useMemo(() => (session ? searchBuffer(session.buffer, query) : []), [session, query, snap.version]);
  const matchSeqs = useMemo(() => (session ? matches.map((i) => i + session.buffer.firstSeq) : []), [matches, session]);
  const current = matchSeqs.length ? Math.min(hit, matchSeqs.length - 1) : -1;
  const currentSeq = current >= 0 ? (matchSeqs[current] ?? null) : null;
  useEffect(() => {
    setHit(0);
    setJump(null);
  }, [query]);
  const go = (delta: number) => {
    if (!matchSeqs.length) return;
    const next = (current + delta + matchSeqs.length) % matchSeqs.length;
    setHit(next);
    const seq = matchSeqs[next];
    if (seq !== undefined) setJump((j) => ({ seq, n: (j?.n ?? 0) + 1 }));
  };

  if (!valid) return <NotFound />;

  const containers = [...new Set(snap.pods.map((p) => p.container).filter(Boolean))];
  if (options.container && !containers.includes(options.container)) containers.unshift(options.container);
  const multiPod = kind !== 'pod' || snap.podOrder.length > 1;
  const set = <K extends keyof Options>(key: K, value: Options[K]) => setOptions((o) => ({ ...o, [key]: value }));
  const download = () => {
    if (!session) return;
    const text = downloadText(session.buffer, downloadN, { withPod: multiPod, withTs: options.timestamps });
    const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
    saveFile(text, `${safe(namespace)}-${safe(name)}${options.container ? `-${safe(options.container)}` : ''}.log`);
  };
  const statusText = {
    connecting: t('alerts.logs.status.connecting'),
    open: snap.paused ? t('alerts.logs.status.paused') : t('alerts.logs.status.open'),
    reconnecting: t('alerts.logs.status.reconnecting'),
    stopped: t('alerts.logs.status.stopped'),
    failed: t('alerts.logs.status.failed'),
  }[snap.status];
  const errorText = snap.error ? serverText(t, { code: snap.error.code, params: snap.error.params, text: snap.error.message || snap.error.code }) : '';
  const what = kind === 'pod' ? t('alerts.logs.titlePod', { name }) : t('alerts.logs.titleWorkload', { kind: kind ?? '', name });
  const objectLink =
    kind === 'pod'
      ? `/clusters/${clusterId}/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`
      : null;

  return (
    <section className="page page-wide logs-page" data-testid="logs-page" data-status={snap.status} data-paused={snap.paused ? 'true' : 'false'}>
      <p className="muted small breadcrumbs">
        <Link to="/clusters">{t('nav.clusters')}</Link> / <Link to={`/clusters/${clusterId}`}>{clusterId}</Link> / {namespace}
        {objectLink && (
          <>
            {' '}
            / <Link to={objectLink}>{name}</Link>
          </>
        )}
      </p>
      <header className="page-header page-header-row">
        <div>
          <h1 className="mono" data-testid="logs-title">
            {what}
          </h1>
          <p className="muted">{t('alerts.logs.intro', { count: DEFAULT_CAPACITY })}</p>
        </div>
      </header>
      <section className="card">
        <div className="logs-options">
          <label className="small">
            {t('alerts.logs.container')}{' '}
            <select value={options.container} onChange={(e) => set('container', e.target.value)} data-testid="logs-container">
              <option value="">{kind === 'pod' ? t('alerts.logs.defaultContainer') : t('alerts.logs.allContainers')}</option>
              {containers.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
          <label className="small">
            {t('alerts.logs.tail')}{' '}
            <select value={options.tailLines} onChange={(e) => set('tailLines', Number(e.target.value))} data-testid="logs-tail">
              {TAIL_CHOICES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label className="small">
            {t('alerts.logs.since')}{' '}
            <select value={options.sinceSeconds} onChange={(e) => set('sinceSeconds', Number(e.target.value))} data-testid="logs-since">
              {SINCE_CHOICES.map((s) => (
                <option key={s} value={s}>
                  {s === 0 ? t('alerts.logs.sinceAny') : s < 3600 ? t('alerts.logs.minutes', { n: s / 60 }) : t('alerts.logs.hours', { n: s / 3600 })}
                </option>
              ))}
            </select>
          </label>
          <label className="checkbox small" title={t('alerts.logs.previousHint')}>
            <input type="checkbox" checked={options.previous} onChange={(e) => set('previous', e.target.checked)} data-testid="logs-previous" />
            {t('alerts.logs.previous')}
          </label>
          <label className="checkbox small">
            <input type="checkbox" checked={options.timestamps} onChange={(e) => set('timestamps', e.target.checked)} data-testid="logs-timestamps" />
            {t('alerts.logs.timestamps')}
          </label>
        </div>
        <div className="logs-toolbar">
          <button
            type="button"
            className="btn btn-small"
            disabled={!session || snap.status !== 'open'}
            onClick={() => (snap.paused ? session?.resume() : session?.pause())}
            data-testid="logs-pause"
          >
            {snap.paused ? t('alerts.logs.resume') : t('alerts.logs.pause')}
          </button>
          <label className="small">
            <span className="visually-hidden">{t('alerts.logs.search')}</span>
            <input
              type="search"
              value={query}
              placeholder={t('alerts.logs.search')}
              onChange={(e) => setQuery(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') go(e.shiftKey ? -1 : 1);
              }}
              data-testid="logs-search"
            />
          </label>
          <button type="button" className="btn btn-small" disabled={!matchSeqs.length} onClick={() => go(-1)} data-testid="logs-search-prev">
            {t('alerts.logs.previousHit')}
          </button>
          <button type="button" className="btn btn-small" disabled={!matchSeqs.length} onClick={() => go(1)} data-testid="logs-search-next">
            {t('alerts.logs.nextHit')}
          </button>
          <span className="small muted" data-testid="logs-search-count">
            {query.trim() ? t('alerts.logs.hits', { current: current + 1, total: matchSeqs.length }) : ''}
          </span>
          <span className="spacer" />
          <label className="small">
            {t('alerts.logs.downloadLast')}{' '}
            <select value={downloadN} onChange={(e) => setDownloadN(Number(e.target.value))} data-testid="logs-download-n">
              {DOWNLOAD_CHOICES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="btn btn-small" disabled={!session || snap.received === 0} onClick={download} data-testid="logs-download">
            {t('alerts.logs.download')}
          </button>
        </div>
        <p className="muted small" role="status" data-testid="logs-status">
          {statusText} · {t('alerts.logs.counts', { held: session?.buffer.size ?? 0, received: snap.received, skipped: snap.skipped })}
          {snap.reconnects > 0 ? ` · ${t('alerts.logs.reconnects', { count: snap.reconnects })}` : ''}
        </p>
        {snap.error && (
          <div className={snap.status === 'failed' ? 'alert alert-error' : 'alert alert-warning'} role="alert" data-testid="logs-error" data-code={snap.error.code}>
            {errorText}
          </div>
        )}
        {snap.podOrder.length > 0 && (
          <div className="pod-legend" data-testid="logs-pods">
            {snap.podOrder.map((pod, i) => (
              <span key={pod} className={`chip small mono pod-c${i % POD_COLOURS}`} data-testid="logs-pod">
                {pod}
              </span>
            ))}
          </div>
        )}
      </section>
      {session && (
        <LogView
          session={session}
          snap={snap}
          query={query}
          currentSeq={currentSeq}
          scrollToSeq={jump}
          multiPod={multiPod}
          timestamps={options.timestamps}
        />
      )}
    </section>
  );
}
