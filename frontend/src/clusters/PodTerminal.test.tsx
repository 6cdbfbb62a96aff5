/**
 * The pod terminal's wiring to /ws/exec/: the socket URL, keystrokes and resizes out, output in,
 * and the status line for each way a session ends. xterm.js draws on a canvas that jsdom lacks,
 * so the terminal is replaced by a recorder with the same surface (open, write, onData, onResize);
 * the real one runs in the browser test (tests/browser/test_pod_shell.py).
 */
import { act, fireEvent, screen } from '@testing-library/react';
import i18n from 'i18next';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { renderAt } from '../test/utils';
import { PodTerminal } from './PodTerminal';

const { FakeTerminal, terminals } = vi.hoisted(() => {
  class FakeTerminal {
    cols = 80;
    rows = 24;
    written: string[] = [];
    dataListener: ((data: string) => void) | null = null;
    resizeListener: ((size: { cols: number; rows: number }) => void) | null = null;
    disposed = false;
    constructor() {
      terminals.push(this);
    }
    loadAddon(): void {}
    open(): void {}
    reset(): void {
      this.written = [];
    }
    focus(): void {}
    dispose(): void {
      this.disposed = true;
    }
    write(data: string): void {
      this.written.push(data);
    }
    onData(listener: (data: string) => void) {
      this.dataListener = listener;
      return { dispose: () => undefined };
    }
    onResize(listener: (size: { cols: number; rows: number }) => void) {
      this.resizeListener = listener;
      return { dispose: () => undefined };
    }
  }
  const terminals: FakeTerminal[] = [];
  return { FakeTerminal, terminals };
});

vi.mock('@xterm/xterm', () => ({ Terminal: FakeTerminal }));
vi.mock('@xterm/addon-fit', () => ({ FitAddon: class { fit(): void {} } }));

function renderTerminal(props: Partial<Parameters<typeof PodTerminal>[0]> = {}) {
  return renderAt(
    <PodTerminal
      clusterId={3}
      namespace="team-a"
      pod="web-1"
      containers={['app', 'sidecar']}
      createSocket={(url) => new FakeWebSocket(url)}
      {...props}
    />,
  );
}

function serverSendRaw(ws: FakeWebSocket, frame: Record<string, unknown>) {
  act(() => ws.serverSend(frame));
}

describe('PodTerminal', () => {
  beforeEach(() => {
    terminals.length = 0;
  });

  it('opens nothing until Connect, then relays keystrokes, resizes and output', () => {
    renderTerminal();
    expect(FakeWebSocket.instances.filter((ws) => ws.url.includes('/ws/exec/'))).toHaveLength(0);
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('Not connected');
    fireEvent.change(screen.getByTestId('terminal-container'), { target: { value: 'sidecar' } });
    fireEvent.change(screen.getByTestId('terminal-command'), { target: { value: '/bin/bash' } });
    fireEvent.click(screen.getByTestId('terminal-connect'));
    const ws = FakeWebSocket.latest();
    const url = new URL(ws.url);
    expect(url.pathname).toBe('/ws/exec/');
    expect(Object.fromEntries(url.searchParams)).toEqual({ cluster: '3', namespace: 'team-a', pod: 'web-1', container: 'sidecar', command: '/bin/bash' });
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('Connecting to sidecar');

    act(() => ws.serverOpen());
    serverSendRaw(ws, { type: 'ready', protocol: 'v5.channel.k8s.io', container: 'sidecar' });
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('Connected to sidecar (/bin/bash, v5.channel.k8s.io)');
    expect(ws.sent).toEqual([{ type: 'resize', cols: 80, rows: 24 }]);

    const term = terminals[0]!;
    act(() => term.dataListener?.('env\r'));
    act(() => term.resizeListener?.({ cols: 120, rows: 40 }));
    expect(ws.sent.slice(1)).toEqual([{ type: 'stdin', data: 'env\r' }, { type: 'resize', cols: 120, rows: 40 }]);

    serverSendRaw(ws, { type: 'stdout', data: 'HOME=/root\r\n' });
    serverSendRaw(ws, { type: 'stderr', data: 'oops\r\n' });
    expect(term.written).toEqual(['HOME=/root\r\n', 'oops\r\n']);

    serverSendRaw(ws, { type: 'exit', code: 3 });
    act(() => ws.serverClose(1000));
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('The shell exited with code 3.');
    expect(screen.getByTestId('terminal-connect')).toBeEnabled();
  });

  it('says when the container was killed under the shell', () => {
    renderTerminal();
    fireEvent.click(screen.getByTestId('terminal-connect'));
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    serverSendRaw(ws, { type: 'ready', protocol: 'v5.channel.k8s.io', container: 'app' });
    serverSendRaw(ws, { type: 'exit', code: 137 });
    act(() => ws.serverClose(1000));
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('the container was stopped or the pod deleted');
  });

  it('says why the server refused, from the error frame', () => {
    renderTerminal();
    fireEvent.click(screen.getByTestId('terminal-connect'));
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    serverSendRaw(ws, {
      type: 'error',
      code: 'pod_not_running',
      message: 'Pod team-a/web-1 is Pending; a shell needs a running pod.',
      params: { pod: 'team-a/web-1', phase: 'Pending' },
    });
    act(() => ws.serverClose(4409));
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('Pod team-a/web-1 is Pending; a shell needs a running pod.');
  });

  it('explains a 4403 without an error frame (foreign origin) and an idle close', () => {
    renderTerminal();
    fireEvent.click(screen.getByTestId('terminal-connect'));
    act(() => FakeWebSocket.latest().serverClose(4403));
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('You may not open a shell in this pod');

    fireEvent.click(screen.getByTestId('terminal-connect'));
    const ws = FakeWebSocket.latest();
    act(() => ws.serverOpen());
    serverSendRaw(ws, { type: 'ready', protocol: 'v4.channel.k8s.io', container: 'app' });
    serverSendRaw(ws, { type: 'error', code: 'exec_idle_timeout', message: 'No input for 900 s: the shell was closed.', params: { seconds: 900 } });
    act(() => ws.serverClose(4408));
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('No input for 900 s');
  });

  it('disconnects on request and when the page goes away', () => {
    const { unmount } = renderTerminal();
    fireEvent.click(screen.getByTestId('terminal-connect'));
    const first = FakeWebSocket.latest();
    act(() => first.serverOpen());
    serverSendRaw(first, { type: 'ready', protocol: 'v5.channel.k8s.io', container: 'app' });
    fireEvent.click(screen.getByTestId('terminal-disconnect'));
    expect(first.closedByClient).toBe(1000);
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('Disconnected.');

    fireEvent.click(screen.getByTestId('terminal-connect'));
    const second = FakeWebSocket.latest();
    act(() => second.serverOpen());
    unmount();
    expect(second.closedByClient).toBe(1000);
    expect(terminals[0]!.disposed).toBe(true);
  });

  it('is disabled with the reason when the user may not exec here', async () => {
    const permission = {
      allowed: false,
      code: 'grant_missing',
      params: { workspace: 'shop', grant: 'pods.exec' },
      reason: 'Your role in workspace shop does not grant pods.exec; ask a manager of the workspace.',
    };
    renderTerminal({ permission });
    expect(screen.getByTestId('terminal-connect')).toBeDisabled();
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('Your role in workspace shop does not grant pods.exec');
    fireEvent.click(screen.getByTestId('terminal-connect'));
    expect(FakeWebSocket.instances.filter((ws) => ws.url.includes('/ws/exec/'))).toHaveLength(0);
    // In Korean the code's translation, not the server's English.
    await act(async () => {
      await i18n.changeLanguage('ko');
    });
    expect(screen.getByTestId('terminal-status')).toHaveTextContent('shop');
    expect(screen.getByTestId('terminal-status')).not.toHaveTextContent('does not grant');
    await act(async () => {
      await i18n.changeLanguage('en');
    });
  });
});
