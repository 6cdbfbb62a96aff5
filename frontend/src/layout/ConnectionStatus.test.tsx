import { act, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getSocket } from '../lib/socket';
import { FakeWebSocket } from '../test/FakeWebSocket';
import { BANNER_DELAY_MS, ConnectionBanner, WsStatus } from './ConnectionStatus';

describe('connection status', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('shows the banner only after the socket has been down for a while', () => {
    render(
      <>
        <WsStatus />
        <ConnectionBanner />
      </>,
    );
    act(() => getSocket().start());
    act(() => FakeWebSocket.latest().serverOpen());
    expect(screen.getByTestId('ws-status')).toHaveAttribute('data-state', 'open');
    act(() => FakeWebSocket.latest().serverClose(1006));
    expect(screen.getByTestId('ws-status')).toHaveAttribute('data-state', 'connecting');
    expect(screen.getByTestId('ws-status')).toHaveTextContent('Reconnecting');
    act(() => vi.advanceTimersByTime(BANNER_DELAY_MS - 100));
    expect(screen.queryByTestId('ws-banner')).not.toBeInTheDocument();
    // Still reconnecting: the first retry fails too.
    act(() => FakeWebSocket.latest().serverClose(1006));
    act(() => vi.advanceTimersByTime(200));
    expect(screen.getByTestId('ws-banner')).toHaveTextContent('Live updates are disconnected');
    // Back: the banner goes away.
    act(() => vi.runOnlyPendingTimers());
    act(() => FakeWebSocket.latest().serverOpen());
    expect(screen.queryByTestId('ws-banner')).not.toBeInTheDocument();
  });

  it('a short blip shows no banner', () => {
    render(<ConnectionBanner />);
    act(() => getSocket().start());
    act(() => FakeWebSocket.latest().serverOpen());
    act(() => FakeWebSocket.latest().serverClose(1006));
    act(() => vi.advanceTimersByTime(1000));
    act(() => FakeWebSocket.latest().serverOpen());
    act(() => vi.advanceTimersByTime(BANNER_DELAY_MS * 2));
    expect(screen.queryByTestId('ws-banner')).not.toBeInTheDocument();
  });
});
