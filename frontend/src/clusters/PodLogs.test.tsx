/**
 * The pod log panel against a fake /log/ endpoint: the query it sends for each choice, the lines
 * it shows (windowed when long), a refusal (from the page's permissions or the server's 403) that
 * disables it with the reason, an apiserver refusal in words, follow re-reading, and the download.
 */
import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import i18n from 'i18next';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch, renderAt } from '../test/utils';
import type { PodLog } from './logs';
import { PodLogs, VIRTUAL_AFTER } from './PodLogs';

const PATH = '/api/clusters/3/pods/team-a/web-1/log/';

function answer(over: Partial<PodLog> = {}): PodLog {
  return { pod: 'web-1', container: 'app', containers: ['app', 'sidecar', 'init-db'], lines: ['one', 'two'], truncated: false, previous: false, ...over };
}

function params(request: Request): Record<string, string> {
  return Object.fromEntries(new URL(request.url).searchParams);
}

function renderLogs(props: Partial<Parameters<typeof PodLogs>[0]> = {}) {
  return renderAt(<PodLogs clusterId={3} namespace="team-a" pod="web-1" containers={['app', 'sidecar']} {...props} />);
}

beforeEach(async () => {
  await i18n.changeLanguage('en');
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('PodLogs', () => {
  it('reads the newest 500 lines of the default container and offers every container', async () => {
    const seen = mockFetch({ [`GET ${PATH}`]: () => json(answer()) });
    renderLogs();
    expect(await screen.findByTestId('logs-lines')).toHaveTextContent('one two');
    expect(params(seen[0]!)).toEqual({ tail: '500' }); // no container: the server picks the pod's default
    expect(screen.getByTestId('logs-status')).toHaveTextContent('Lines: 2');
    const options = [...(screen.getByTestId('logs-container') as HTMLSelectElement).options].map((o) => o.value);
    expect(options).toEqual(['app', 'sidecar', 'init-db']); // the init container from the answer
    expect(screen.getByTestId('logs-container')).toHaveValue('app');
  });

  it('asks again with the chosen container, tail, previous run and timestamps', async () => {
    const seen = mockFetch({
      [`GET ${PATH}`]: (request) => {
        const query = params(request);
        return json(answer({ container: query.container ?? 'app', previous: query.previous === 'true', lines: [`for ${request.url}`] }));
      },
    });
    renderLogs();
    await screen.findByTestId('logs-lines');
    fireEvent.change(screen.getByTestId('logs-container'), { target: { value: 'sidecar' } });
    fireEvent.change(screen.getByTestId('logs-tail'), { target: { value: '1000' } });
    fireEvent.click(screen.getByTestId('logs-previous'));
    fireEvent.click(screen.getByTestId('logs-timestamps'));
    await waitFor(() => expect(params(seen[seen.length - 1]!)).toEqual({ container: 'sidecar', tail: '1000', previous: 'true', timestamps: 'true' }));
    expect(await screen.findByText(/timestamps=true/)).toBeInTheDocument();
    expect(screen.getByTestId('logs-follow')).toBeDisabled(); // a previous run does not change
  });

  it('windows a long log with VirtualList', async () => {
    const lines = Array.from({ length: VIRTUAL_AFTER + 200 }, (_, i) => `line ${i}`);
    mockFetch({ [`GET ${PATH}`]: () => json(answer({ lines })) });
    renderLogs();
    const list = await screen.findByTestId('logs-lines');
    expect(list).toHaveAttribute('data-total', String(lines.length));
    expect(list.querySelectorAll('.pod-log-line').length).toBeLessThan(100); // only the rows in view
  });

  it('says the log was cut, and that a container has logged nothing yet', async () => {
    mockFetch({ [`GET ${PATH}`]: () => json(answer({ truncated: true })) });
    const first = renderLogs();
    expect(await screen.findByTestId('logs-truncated')).toHaveTextContent('cut at 2 MiB');
    first.unmount();
    mockFetch({ [`GET ${PATH}`]: () => json(answer({ lines: [] })) });
    renderLogs();
    expect(await screen.findByTestId('logs-empty')).toHaveTextContent('no log lines');
  });

  it('is disabled with the reason when the page knows pods.logs is not granted, and asks nothing', async () => {
    const seen = mockFetch({});
    renderLogs({
      permission: {
        allowed: false,
        code: 'grant_missing',
        reason: 'Your role in workspace shop does not grant pods.logs.',
        params: { workspace: 'shop', grant: 'pods.logs' },
      },
    });
    expect(screen.getByTestId('logs-denied')).toHaveTextContent('pods.logs');
    expect(screen.getByTestId('logs-refresh')).toBeDisabled();
    expect(screen.getByTestId('logs-container')).toBeDisabled();
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    expect(seen).toHaveLength(0);
  });

  it("is disabled with the server's reason after a 403, in Korean too", async () => {
    await i18n.changeLanguage('ko');
    mockFetch({
      [`GET ${PATH}`]: () =>
        json(
          { detail: 'Your role in workspace shop does not grant pods.logs.', code: 'grant_missing', params: { workspace: 'shop', grant: 'pods.logs' } },
          { status: 403 },
        ),
    });
    renderLogs();
    const denied = await screen.findByTestId('logs-denied');
    expect(denied).toHaveTextContent('pods.logs');
    expect(denied).toHaveTextContent('shop');
    expect(denied.textContent).toMatch(/[가-힣]/);
    expect(screen.getByTestId('logs-follow')).toBeDisabled();
  });

  it("shows the apiserver's refusal of a previous run in the reader's language", async () => {
    mockFetch({
      [`GET ${PATH}`]: (request) =>
        params(request).previous
          ? json(
              { detail: 'Container app of pod team-a/web-1 has no previous (terminated) run …', code: 'previous_log_unavailable', params: { pod: 'team-a/web-1', container: 'app' } },
              { status: 400 },
            )
          : json(answer()),
    });
    await i18n.changeLanguage('ko');
    renderLogs();
    await screen.findByTestId('logs-lines');
    fireEvent.click(screen.getByTestId('logs-previous'));
    expect(await screen.findByTestId('logs-error')).toHaveTextContent('이전(종료된) 실행');
    expect(screen.getByTestId('logs-refresh')).toBeEnabled(); // only a 403 disables the panel
  });

  it('follows: reads again while on, and stops when turned off', async () => {
    let reads = 0;
    mockFetch({ [`GET ${PATH}`]: () => json(answer({ lines: [`read ${++reads}`] })) });
    renderLogs({ followMs: 30 });
    await screen.findByText('read 1');
    fireEvent.click(screen.getByTestId('logs-follow'));
    await screen.findByText('read 3', {}, { timeout: 2000 });
    fireEvent.click(screen.getByTestId('logs-follow'));
    const after = reads;
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
    });
    expect(reads).toBeLessThanOrEqual(after + 1); // at most the read in flight when it was turned off
    fireEvent.click(screen.getByTestId('logs-refresh'));
    await waitFor(() => expect(reads).toBeGreaterThan(after));
  });

  it('pauses following while the cluster does not answer, and resumes after a refresh that succeeds', async () => {
    let reads = 0;
    let down = false;
    mockFetch({
      [`GET ${PATH}`]: () => {
        reads += 1;
        return down
          ? json({ detail: 'The cluster c1 sent no answer within 5 s.', code: 'cluster_timeout', params: { cluster: 'c1', budget: 5 } }, { status: 503 })
          : json(answer({ lines: [`read ${reads}`] }));
      },
    });
    renderLogs({ followMs: 30 });
    await screen.findByText('read 1');
    down = true;
    fireEvent.click(screen.getByTestId('logs-follow'));
    expect(await screen.findByTestId('logs-error')).toHaveTextContent('no answer within 5 s');
    const failed = reads;
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
    });
    expect(reads).toBe(failed); // not asked again every 30 ms
    down = false;
    fireEvent.click(screen.getByTestId('logs-refresh'));
    await waitFor(() => expect(reads).toBeGreaterThan(failed + 1)); // the refresh, then following again
    expect(screen.queryByTestId('logs-error')).not.toBeInTheDocument();
  });

  it('downloads the lines as a .log file named after the pod and container', async () => {
    mockFetch({ [`GET ${PATH}`]: () => json(answer({ container: 'sidecar', previous: false, lines: ['a', 'b'] })) });
    const blobs: Blob[] = [];
    const createObjectURL = vi.fn((blob: Blob) => {
      blobs.push(blob);
      return 'blob:log';
    });
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const clicked: HTMLAnchorElement[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this);
    });
    renderLogs();
    await screen.findByTestId('logs-lines');
    fireEvent.click(screen.getByTestId('logs-download'));
    expect(clicked[0]?.download).toBe('web-1-sidecar.log');
    const text = await new Promise<string>((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.readAsText(blobs[0]!);
    });
    expect(text).toBe('a\nb\n');
    click.mockRestore();
  });
});
