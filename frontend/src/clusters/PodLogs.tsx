/**
 * The recent log of one of a pod's containers (docs/clusters-api.md "Pod logs", grant `pods.logs`):
 * a container choice, how many of the newest lines, the previous (terminated) run, timestamps, a
 * refresh button and "follow", which reads the newest lines again every few seconds while the
 * browser tab is visible (TanStack Query's refetchInterval pauses in a hidden tab; an error answer
 * pauses it too, until a refresh succeeds, so a cluster that does not answer is not asked every few
 * seconds). Long logs are
 * windowed with VirtualList; the lines as read can be saved as a .log file.
 *
 * A snapshot, not a stream: streaming with search is issue 14's. Without `pods.logs` the panel
 * says why — from the object's `permissions` when the page passes them, else from the server's 403
 * — and stops asking.
 */
import { useQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/errors';
import { VirtualList } from '../components/VirtualList';
import { apiErrorText, serverText } from '../lib/messages';
import type { Permission } from '../objects/types';
import { LOG_LIMIT_TEXT, TAIL_CHOICES, TAIL_DEFAULT, logFileName, logsApi, podLogKey, type PodLogOptions } from './logs';
import './podLogs.css';

/** Lines above this many are windowed. */
export const VIRTUAL_AFTER = 300;
const ROW_HEIGHT = 18;
const VIEW_HEIGHT = 420;
/** How close to the end (px) counts as "at the end" for keeping the newest line in view. */
const STICK_SLACK = 24;

export interface PodLogsProps {
  clusterId: number;
  namespace: string;
  pod: string;
  /** The pod's containers as the page knows them; the server's answer adds init containers. */
  containers: string[];
  /** `pods.logs` from the object's permissions, when the page has read them. */
  permission?: Pick<Permission, 'allowed' | 'code' | 'reason' | 'params'>;
  /** Milliseconds between two reads while following. */
  followMs?: number;
}

function refusedByServer(error: unknown): boolean {
  return error instanceof ApiError && error.status === 403;
}

export function PodLogs({ clusterId, namespace, pod, containers, permission, followMs = 5_000 }: PodLogsProps) {
  const { t, i18n } = useTranslation();
  const [container, setContainer] = useState('');
  const [tail, setTail] = useState<number>(TAIL_DEFAULT);
  const [previous, setPrevious] = useState(false);
  const [timestamps, setTimestamps] = useState(false);
  const [follow, setFollow] = useState(false);
  const deniedByPage = !!permission && !permission.allowed;
  const options: PodLogOptions = { container, tail, previous, timestamps };
  const log = useQuery({
    queryKey: podLogKey(clusterId, namespace, pod, options),
    queryFn: ({ signal }) => logsApi.read(clusterId, namespace, pod, options, signal),
    enabled: !deniedByPage,
    staleTime: 0,
    gcTime: 30_000,
    refetchOnWindowFocus: false,
    // a previous run does not change; a refusal does not go away by asking again
    refetchInterval: (query) => (follow && !previous && !(query.state.error instanceof ApiError) ? followMs : false),
    // the gateway already gave the cluster its whole time budget; the reader has a refresh button
    retry: false,
  });
  const denied = deniedByPage || refusedByServer(log.error);
  const deniedText = deniedByPage
    ? serverText(t, { code: permission?.code, params: permission?.params, text: permission?.reason ?? '' })
    : denied
      ? apiErrorText(t, log.error)
      : '';

  const data = log.data;
  const lines = data?.lines ?? [];
  const shown = container || data?.container || containers[0] || '';
  const choices = [...containers, ...(data?.containers ?? []).filter((c) => !containers.includes(c))];
  if (shown && !choices.includes(shown)) choices.unshift(shown);

  // Keep the newest line in view while the reader is at the end (or has not scrolled yet).
  const boxRef = useRef<HTMLDivElement | null>(null);
  const atEnd = useRef(true);
  const scroller = useCallback((): HTMLElement | null => boxRef.current?.querySelector<HTMLElement>('[data-log-scroll], .virtual-list') ?? null, []);
  const onScroll = useCallback(() => {
    const el = scroller();
    if (el) atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight <= STICK_SLACK;
  }, [scroller]);
  useLayoutEffect(() => {
    const el = scroller();
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [data, scroller]);
  useEffect(() => {
    atEnd.current = true;
  }, [container, tail, previous, timestamps]);

  const download = () => {
    if (!data) return;
    const blob = new Blob([data.lines.join('\n') + (data.lines.length ? '\n' : '')], { type: 'text/plain;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = logFileName(data.pod, data.container, data.previous);
    document.body.appendChild(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  };

  const readAt = log.dataUpdatedAt ? new Date(log.dataUpdatedAt).toLocaleTimeString(i18n.language) : '';
  const followSeconds = Math.round(followMs / 1000);
  return (
    <div className="tab-panel pod-logs" data-testid="pod-logs">
      <div className="tab-toolbar pod-logs-toolbar">
        <div className="row-actions pod-logs-options">
          <label className="small">
            {t('logs.container')}{' '}
            <select value={shown} disabled={denied} onChange={(e) => setContainer(e.target.value)} data-testid="logs-container">
              {choices.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
          <label className="small">
            {t('logs.tail')}{' '}
            <select value={tail} disabled={denied} onChange={(e) => setTail(Number(e.target.value))} data-testid="logs-tail">
              {TAIL_CHOICES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label className="checkbox small" title={t('logs.previousHint')}>
            <input type="checkbox" checked={previous} disabled={denied} onChange={(e) => setPrevious(e.target.checked)} data-testid="logs-previous" />
            {t('logs.previous')}
          </label>
          <label className="checkbox small">
            <input type="checkbox" checked={timestamps} disabled={denied} onChange={(e) => setTimestamps(e.target.checked)} data-testid="logs-timestamps" />
            {t('logs.timestamps')}
          </label>
          <label className="checkbox small" title={t('logs.followHint', { seconds: followSeconds })}>
            <input
              type="checkbox"
              checked={follow && !previous}
              disabled={denied || previous}
              onChange={(e) => setFollow(e.target.checked)}
              data-testid="logs-follow"
            />
            {t('logs.follow')}
          </label>
        </div>
        <div className="row-actions">
          <button
            type="button"
            className="btn btn-small"
            disabled={denied || log.isFetching}
            onClick={() => void log.refetch()}
            data-testid="logs-refresh"
          >
            {t('logs.refresh')}
          </button>
          <button type="button" className="btn btn-small" disabled={denied || !data} onClick={download} data-testid="logs-download">
            {t('logs.download')}
          </button>
        </div>
      </div>
      {denied ? (
        <p className="muted small" role="status" data-testid="logs-denied">
          {t('logs.notAllowed', { reason: deniedText })}
        </p>
      ) : (
        <>
          <p className="muted small" role="status" data-testid="logs-status">
            {log.isPending
              ? t('logs.loading')
              : data
                ? `${t('logs.lineCount', { count: lines.length })}${readAt ? ` · ${t('logs.readAt', { time: readAt })}` : ''}`
                : ''}
            {follow && !previous && data ? ` · ${t('logs.followHint', { seconds: followSeconds })}` : ''}
          </p>
          {log.isError && (
            <div className="alert alert-error" role="alert" data-testid="logs-error">
              {apiErrorText(t, log.error)}
            </div>
          )}
          {data?.truncated && (
            <div className="alert alert-warning" role="status" data-testid="logs-truncated">
              {t('logs.truncated', { size: LOG_LIMIT_TEXT })}
            </div>
          )}
          {data && (
            <div ref={boxRef} onScrollCapture={onScroll} aria-label={t('logs.label', { container: data.container })}>
              {lines.length === 0 ? (
                <p className="muted" data-testid="logs-empty">
                  {t('logs.empty')}
                </p>
              ) : lines.length > VIRTUAL_AFTER ? (
                <div className="pod-logs-virtual">
                  <VirtualList
                    items={lines}
                    rowHeight={ROW_HEIGHT}
                    height={VIEW_HEIGHT}
                    getKey={(_line, index) => String(index)}
                    renderRow={(line) => <span className="pod-log-line">{line}</span>}
                    testId="logs-lines"
                  />
                </div>
              ) : (
                <pre className="code-block pod-logs-pre" data-log-scroll data-testid="logs-lines" tabIndex={0}>
                  {lines.join('\n')}
                </pre>
              )}
            </div>
          )}
        </>
      )}
    </div>
  );
}
