/**
 * The log of one build step, live: it reads `GET /runs/{id}/steps/{name}/log/?offset=0`, then
 * appends the `buildrun.log` events of the `buildrun.<id>` group by their byte offset
 * (logBuffer.ts: duplicates ignored, a gap reads `/log/?offset=<what we hold>`, events arriving
 * during a read are applied after it). A seq gap in the group, and a step that finished with more
 * bytes than we hold, read again from where we are; a log the server has cut (it keeps the newest
 * bytes, so offsets start lower) is read again from 0. The buffer is bounded; Download reads the
 * whole stored log. Follow keeps the newest line in view; scrolling up (or Pause) stops it.
 * The log of a failed step stays: the server keeps it after the pod is gone.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { VirtualList } from '../components/VirtualList';
import { apiErrorText } from '../lib/messages';
import { useSubscription, type SocketEvent } from '../lib/socket';
import { buildsApi } from './api';
import { EMPTY_LOG, MAX_LOG_CHARS, applyChunk, applyRead, linesOf, type LogBuffer } from './logBuffer';
import type { StepLogEvent, StepStatus } from './types';

const VIRTUAL_AFTER = 300;
const ROW_HEIGHT = 18;
const VIEW_HEIGHT = 420;
const STICK_SLACK = 24;
/** Reads in a row while each one still finds a gap (events keep outrunning the reads). */
const MAX_READS = 5;

function isLogEvent(v: unknown): v is StepLogEvent {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.step === 'string' && typeof r.offset === 'number' && (typeof r.text === 'string' || Array.isArray(r.lines));
}

/** The event's text (the contract's `text`; `lines` joined, as an older wording of it has). */
function eventText(v: StepLogEvent & { lines?: unknown }): string {
  if (typeof v.text === 'string') return v.text;
  return Array.isArray(v.lines) ? v.lines.map((l) => `${String(l)}\n`).join('') : '';
}

const FINISHED: readonly StepStatus[] = ['succeeded', 'failed', 'skipped', 'cancelled'];

/** The live, bounded log of one step; `read()` reads from the end we hold. */
export function useStepLog(runId: number, step: string, { status, logSize, maxChars = MAX_LOG_CHARS }: { status: StepStatus; logSize: number; maxChars?: number }) {
  const [buffer, setBuffer] = useState<LogBuffer>(EMPTY_LOG);
  const [error, setError] = useState<unknown>(null);
  const bufferRef = useRef<LogBuffer>(EMPTY_LOG);
  const pending = useRef<StepLogEvent[]>([]);
  const reading = useRef(false);
  const again = useRef(false);
  const resetNext = useRef(false);
  const alive = useRef(true);

  const commit = useCallback((next: LogBuffer) => {
    bufferRef.current = next;
    if (alive.current) setBuffer(next);
  }, []);

  const read = useCallback(async () => {
    if (reading.current) {
      again.current = true; // the running read looks again when it is done
      return;
    }
    reading.current = true;
    try {
      for (let i = 0; i < MAX_READS; i += 1) {
        again.current = false;
        let held = resetNext.current ? EMPTY_LOG : bufferRef.current;
        const asked = held.end;
        let answer = await buildsApi.stepLog(runId, step, asked);
        if (!alive.current) return;
        if (answer.offset < asked) {
          // the server cut the log (offsets start lower now): read what it keeps, from the start
          held = { ...EMPTY_LOG, dropped: true };
          answer = await buildsApi.stepLog(runId, step, 0);
          if (!alive.current) return;
        }
        if (resetNext.current) held = { ...held, dropped: true };
        resetNext.current = false;
        let next = applyRead(held, answer, maxChars);
        const queued = pending.current.sort((a, b) => a.offset - b.offset);
        pending.current = [];
        let gap = false;
        for (const event of queued) {
          const result = applyChunk(next, event.offset, eventText(event), maxChars);
          if (result.reset) {
            // bytes that disagree with what the read gave: the log was cut after it; read again from 0
            resetNext.current = true;
            gap = true;
            break;
          }
          next = result.buffer;
          if (result.gap) {
            gap = true;
            pending.current.push(event);
          }
        }
        commit(next);
        setError(null);
        if (!gap && !again.current) break;
      }
    } catch (e) {
      if (alive.current) setError(e);
    } finally {
      reading.current = false;
    }
  }, [runId, step, maxChars, commit]);

  useEffect(() => {
    alive.current = true;
    bufferRef.current = EMPTY_LOG;
    pending.current = [];
    resetNext.current = false;
    setBuffer(EMPTY_LOG);
    void read();
    return () => {
      alive.current = false;
    };
  }, [read]);

  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type !== 'buildrun.log' || !isLogEvent(event.data) || event.data.step !== step) return;
      const data = event.data;
      if (reading.current || !bufferRef.current.loaded) {
        pending.current.push(data);
        return;
      }
      const result = applyChunk(bufferRef.current, data.offset, eventText(data), maxChars);
      if (result.reset) {
        resetNext.current = true; // the server cut the log: read what it keeps from 0
        void read();
      } else if (result.gap) {
        pending.current.push(data);
        void read();
      } else if (result.buffer !== bufferRef.current) {
        commit(result.buffer);
      }
    },
    [step, maxChars, read, commit],
  );
  useSubscription(`buildrun.${runId}`, onEvent, () => void read());

  // A step that has finished with more stored than we hold (events missed): read the rest.
  const finished = FINISHED.includes(status);
  useEffect(() => {
    if (finished && bufferRef.current.loaded && logSize > bufferRef.current.end) void read();
  }, [finished, logSize, read]);

  return { buffer, error, read };
}

function logFileName(runId: number, step: string): string {
  return `build-${runId}-${step.replace(/[^A-Za-z0-9._-]/g, '_')}.log`;
}

export function StepLogPanel({ runId, step, status, logSize, title }: { runId: number; step: string; status: StepStatus; logSize: number; title: string }) {
  const { t } = useTranslation();
  const { buffer, error, read } = useStepLog(runId, step, { status, logSize });
  const [follow, setFollow] = useState(true);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const lines = linesOf(buffer);
  const boxRef = useRef<HTMLDivElement | null>(null);
  const scroller = useCallback((): HTMLElement | null => boxRef.current?.querySelector<HTMLElement>('[data-log-scroll], .virtual-list') ?? null, []);

  useLayoutEffect(() => {
    const el = scroller();
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [buffer, follow, scroller]);

  const onScroll = () => {
    const el = scroller();
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight <= STICK_SLACK;
    if (!atEnd && follow) setFollow(false);
  };

  const download = async () => {
    setDownloadError(null);
    let text = buffer.text;
    try {
      const whole = await buildsApi.stepLog(runId, step, 0);
      text = whole.text;
    } catch (e) {
      setDownloadError(e); // what we hold is still worth saving
    }
    const blob = new Blob([text], { type: 'text/plain;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = logFileName(runId, step);
    document.body.appendChild(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  };

  return (
    <section className="build-log" data-testid={`step-log-${step}`} data-end={buffer.end} data-loaded={String(buffer.loaded)}>
      <div className="build-log-toolbar">
        <h3>{title}</h3>
        <span className="spacer" />
        <button type="button" className="btn btn-small" aria-pressed={follow} data-testid={`log-follow-${step}`} onClick={() => setFollow((v) => !v)}>
          {follow ? t('builds.log.pause') : t('builds.log.follow')}
        </button>
        <button type="button" className="btn btn-small" data-testid={`log-refresh-${step}`} onClick={() => void read()}>
          {t('builds.log.refresh')}
        </button>
        <button type="button" className="btn btn-small" data-testid={`log-download-${step}`} disabled={!buffer.loaded} onClick={() => void download()}>
          {t('builds.log.download')}
        </button>
      </div>
      {error ? (
        <div className="alert alert-error" role="alert" data-testid={`log-error-${step}`}>
          {apiErrorText(t, error)}
        </div>
      ) : null}
      {downloadError ? (
        <div className="alert alert-warning" role="alert">
          {apiErrorText(t, downloadError)}
        </div>
      ) : null}
      {buffer.dropped && (
        <p className="small muted" data-testid={`log-dropped-${step}`}>
          {t('builds.log.dropped')}
        </p>
      )}
      {!buffer.loaded && !error && <p className="small muted">{t('builds.log.loading')}</p>}
      {buffer.loaded && lines.length === 0 && (
        <p className="small muted" data-testid={`log-empty-${step}`}>
          {status === 'pending' ? t('builds.log.notStarted') : t('builds.log.empty')}
        </p>
      )}
      {lines.length > 0 && (
        <div ref={boxRef} onScrollCapture={onScroll} aria-label={t('builds.log.label', { step: title })}>
          {lines.length > VIRTUAL_AFTER ? (
            <div className="build-log-virtual">
              <VirtualList
                items={lines}
                rowHeight={ROW_HEIGHT}
                height={VIEW_HEIGHT}
                getKey={(_line, index) => String(index)}
                renderRow={(line) => <span className="build-log-line">{line}</span>}
                testId={`log-lines-${step}`}
              />
            </div>
          ) : (
            <pre className="code-block build-log-pre" data-log-scroll data-testid={`log-lines-${step}`}>
              {lines.join('\n')}
            </pre>
          )}
        </div>
      )}
    </section>
  );
}
