/**
 * A shell in one of a pod's containers: an xterm.js terminal wired to `/ws/exec/` (docs/terminal.md).
 *
 * The server relays the Kubernetes exec stream; this component only speaks the portal's JSON
 * frames: it sends `{"type":"stdin","data"}` for every keystroke or paste and `{"type":"resize",
 * "cols","rows"}` whenever the fit addon changes the size, and writes `stdout`/`stderr` into the
 * terminal. The status line says where the session stands and, when the server refuses or ends it
 * (no `pods.exec`, pod not running, idle timeout …), why — in the reader's language, from the error
 * frame's `code`. Nothing is fetched or opened until the user presses Connect.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { serverText } from '../lib/messages';
import type { WebSocketLike } from '../lib/socket';
import { openStyleSafe, styleSafeDocument } from './xtermStyles';

/** The shells the server allows (clusters/api/terminal.py COMMANDS). */
export const SHELLS = ['/bin/sh', '/bin/bash', 'sh'] as const;

/** The part of the browser WebSocket used here (the live socket's own subset); tests pass a fake. */
export type TerminalSocket = WebSocketLike;

export interface PodTerminalProps {
  clusterId: number;
  namespace: string;
  pod: string;
  containers: string[];
  /** Whether the user holds `pods.exec` here (the object's `permissions`), when the page knows;
   *  otherwise the socket's refusal tells. `code`/`params` translate the reason. */
  permission?: { allowed: boolean; reason?: string; code?: string; params?: Record<string, unknown> };
  createSocket?: (url: string) => TerminalSocket;
}

type Phase = 'idle' | 'connecting' | 'open' | 'exited' | 'closed';

interface ServerError {
  code: string;
  message: string;
  params?: Record<string, unknown>;
}

const OPEN = 1;

export function execSocketUrl(clusterId: number, namespace: string, pod: string, container: string, command: string): string {
  const { protocol, host } = window.location;
  const query = new URLSearchParams({ cluster: String(clusterId), namespace, pod, container, command });
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/ws/exec/?${query.toString()}`;
}

export function PodTerminal({ clusterId, namespace, pod, containers, permission, createSocket }: PodTerminalProps) {
  const { t } = useTranslation();
  const [container, setContainer] = useState(containers[0] ?? '');
  const [command, setCommand] = useState<string>(SHELLS[0]);
  const [phase, setPhase] = useState<Phase>('idle');
  const [status, setStatus] = useState('');
  const [protocol, setProtocol] = useState('');
  const screenRef = useRef<HTMLDivElement | null>(null);
  const termRef = useRef<Terminal | null>(null);
  const fitRef = useRef<FitAddon | null>(null);
  const socketRef = useRef<TerminalSocket | null>(null);

  useEffect(() => {
    if (!containers.includes(container) && containers[0]) setContainer(containers[0]);
  }, [containers, container]);

  const send = useCallback((frame: Record<string, unknown>) => {
    const socket = socketRef.current;
    if (socket && socket.readyState === OPEN) socket.send(JSON.stringify(frame));
  }, []);

  /** The terminal, created on first connect and kept for later sessions. */
  const terminal = useCallback((): Terminal | null => {
    if (termRef.current) return termRef.current;
    if (!screenRef.current) return null;
    // documentOverride: xterm's own <style> elements would break the CSP (./xtermStyles.ts)
    const term = new Terminal({ cursorBlink: true, fontSize: 13, scrollback: 5000, documentOverride: styleSafeDocument() });
    const fit = new FitAddon();
    term.loadAddon(fit);
    const parent = screenRef.current;
    openStyleSafe(() => term.open(parent));
    term.onData((data) => send({ type: 'stdin', data }));
    term.onResize(({ cols, rows }) => send({ type: 'resize', cols, rows }));
    termRef.current = term;
    fitRef.current = fit;
    return term;
  }, [send]);

  const refit = useCallback(() => {
    try {
      fitRef.current?.fit();
    } catch {
      // not laid out yet (hidden panel): the next resize fits it
    }
  }, []);

  useEffect(() => {
    window.addEventListener('resize', refit);
    // The panel can change size without the window (a sidebar folds, the layout reflows).
    const observer = typeof ResizeObserver === 'undefined' || !screenRef.current ? null : new ResizeObserver(() => refit());
    if (observer && screenRef.current) observer.observe(screenRef.current);
    return () => {
      window.removeEventListener('resize', refit);
      observer?.disconnect();
    };
  }, [refit]);

  useEffect(
    () => () => {
      const socket = socketRef.current;
      socketRef.current = null;
      if (socket) socket.close(1000);
      termRef.current?.dispose();
      termRef.current = null;
    },
    [],
  );

  const connect = () => {
    const term = terminal();
    term?.reset();
    refit();
    const url = execSocketUrl(clusterId, namespace, pod, container, command);
    const socket = createSocket ? createSocket(url) : (new WebSocket(url) as TerminalSocket);
    socketRef.current = socket;
    let lastError: ServerError | null = null;
    let exited = false;
    setPhase('connecting');
    setStatus(t('terminal.status.connecting', { container }));
    socket.onmessage = (ev: MessageEvent) => {
      if (socketRef.current !== socket) return;
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(String(ev.data)) as Record<string, unknown>;
      } catch {
        return;
      }
      switch (frame.type) {
        case 'ready':
          setPhase('open');
          setProtocol(String(frame.protocol ?? ''));
          setStatus(t('terminal.status.open', { container: String(frame.container ?? container), command, protocol: String(frame.protocol ?? '') }));
          refit();
          if (term) send({ type: 'resize', cols: term.cols, rows: term.rows });
          term?.focus();
          break;
        case 'stdout':
        case 'stderr':
          if (typeof frame.data === 'string') term?.write(frame.data);
          break;
        case 'exit':
          exited = true;
          setPhase('exited');
          // 137 = SIGKILL: the runtime killed the shell with its container (stopped, pod deleted)
          setStatus(Number(frame.code) === 137 ? t('terminal.status.killed') : t('terminal.status.exited', { code: Number(frame.code) }));
          break;
        case 'error':
          lastError = { code: String(frame.code ?? ''), message: String(frame.message ?? ''), params: (frame.params ?? {}) as Record<string, unknown> };
          break;
      }
    };
    socket.onclose = (ev: CloseEvent) => {
      if (socketRef.current !== socket) return;
      socketRef.current = null;
      if (exited) return;
      setPhase('closed');
      if (lastError) setStatus(serverText(t, { code: lastError.code, params: lastError.params, text: lastError.message }));
      else if (ev.code === 4401) setStatus(t('terminal.status.unauthenticated'));
      else if (ev.code === 4403) setStatus(t('terminal.status.forbidden'));
      else if (ev.code === 1000) setStatus(t('terminal.status.closed'));
      else setStatus(t('terminal.status.lost', { code: ev.code }));
    };
  };

  const disconnect = () => {
    const socket = socketRef.current;
    socketRef.current = null;
    socket?.close(1000);
    setPhase('closed');
    setStatus(t('terminal.status.closed'));
  };

  const denied = permission && !permission.allowed;
  const deniedText = denied ? serverText(t, { code: permission.code, params: permission.params, text: permission.reason ?? '' }) : '';
  const busy = phase === 'connecting' || phase === 'open';
  return (
    <div className="tab-panel" data-testid="pod-terminal">
      <div className="tab-toolbar">
        <div className="row-actions">
          <label className="small">
            {t('terminal.container')}{' '}
            <select value={container} disabled={busy || !!denied} onChange={(e) => setContainer(e.target.value)} data-testid="terminal-container">
              {containers.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
          <label className="small">
            {t('terminal.command')}{' '}
            <select value={command} disabled={busy || !!denied} onChange={(e) => setCommand(e.target.value)} data-testid="terminal-command">
              {SHELLS.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        </div>
        {busy ? (
          <button type="button" className="btn btn-small" onClick={disconnect} data-testid="terminal-disconnect">
            {t('terminal.disconnect')}
          </button>
        ) : (
          <button
            type="button"
            className="btn btn-small btn-primary"
            onClick={connect}
            disabled={!!denied || !container}
            title={denied ? deniedText : undefined}
            data-testid="terminal-connect"
          >
            {t('terminal.connect')}
          </button>
        )}
      </div>
      <p className="muted small" role="status" data-testid="terminal-status" data-phase={phase} data-protocol={protocol}>
        {denied ? t('terminal.notAllowed', { reason: deniedText }) : status || t('terminal.status.idle')}
      </p>
      <div
        ref={screenRef}
        className="terminal-screen"
        data-testid="terminal-screen"
        style={{ height: 360, background: 'var(--code-bg)', padding: 4, borderRadius: 6, display: phase === 'idle' ? 'none' : 'block' }}
      />
      <p className="muted small">{t('terminal.recorded')}</p>
    </div>
  );
}
