import { describe, expect, it } from 'vitest';
import type uPlot from 'uplot';
import { alignedTimes, isolatedIndices, latestValue, markerColor, panelsOf, placeMarkers, valuesOn } from './chartData';
import { bytesText, coresText, moneyText, percentText, unitText } from './format';
import { markerLeft, markersPlugin } from './markersPlugin';
import { FakePlot } from './testUplot';
import { T0, chart } from './testData';

describe('chart data', () => {
  it('splits the series into a CPU and a memory panel in legend order, aligned on one time axis', () => {
    const panels = panelsOf(
      chart({
        series: [
          { metric: 'mem_usage', unit: 'bytes', points: [[T0 + 60, 5]] },
          { metric: 'cpu_capacity', unit: 'cores', points: [[T0, 4], [T0 + 60, 4]] },
          { metric: 'cpu_usage', unit: 'cores', points: [[T0 + 60, 1.5], [T0 + 120, 2]] },
          { metric: 'restarts', unit: '', points: [[T0, 1]] }, // not a CPU or memory metric
        ],
      }),
    );
    expect(panels.map((p) => p.resource)).toEqual(['cpu', 'mem']);
    const cpu = panels[0];
    expect(cpu?.xs).toEqual([T0, T0 + 60, T0 + 120]);
    expect(cpu?.series.map((s) => s.metric)).toEqual(['usage', 'capacity']);
    expect(cpu?.series[0]?.values).toEqual([null, 1.5, 2]);
    expect(cpu?.series[1]?.values).toEqual([4, 4, null]);
    expect(panels[1]?.unit).toBe('bytes');
    expect(panelsOf({ series: [] })).toEqual([]);
  });

  it('finds the newest value of a metric', () => {
    expect(latestValue({ series: [{ metric: 'pods', unit: 'count', points: [[1, 3], [2, 4], [3, null]] }] }, 'pods')).toBe(4);
    expect(latestValue({ series: [] }, 'pods')).toBeNull();
  });

  it('finds the samples a line cannot show', () => {
    expect(isolatedIndices([null, 1, null, 2, 3, null, 4])).toEqual([1, 6]);
    expect(isolatedIndices([5])).toEqual([0]);
    expect(isolatedIndices([])).toEqual([]);
  });

  it('aligns times and keeps gaps', () => {
    expect(alignedTimes([{ metric: 'a', unit: '', points: [[3, 1], [1, 1]] }, { metric: 'b', unit: '', points: [[2, null], [3, 2]] }])).toEqual([1, 2, 3]);
    expect(valuesOn([1, 2, 3], [[1, 7], [3, Number.NaN]])).toEqual([7, null, null]);
  });

  it('places markers in time, oldest first, dropping unreadable times', () => {
    const placed = placeMarkers([
      { at: '2026-11-30T01:10:00Z', kind: 'scale', title: 'b' },
      { at: 'not a time', kind: 'deploy', title: 'x' },
      { at: 1_796_000_000, kind: 'deploy', title: 'a' },
    ]);
    expect(placed.map((m) => m.title)).toEqual(['a', 'b']);
    expect(placed[0]?.ts).toBe(1_796_000_000);
    expect(placeMarkers(undefined)).toEqual([]);
    expect(markerColor('deploy')).not.toBe(markerColor('alert'));
    expect(markerColor('something-new')).toBe(markerColor('edit'));
  });
});

describe('markersPlugin', () => {
  it('draws a vertical line per marker in range and a flag with a tooltip saying who and what', () => {
    const markers = placeMarkers([
      { at: T0 + 90, kind: 'deploy', title: 'web revision 3', actor: 'ada' },
      { at: T0 + 120, kind: 'alert', title: 'PodCrashLooping' },
      { at: T0 + 9999, kind: 'scale', title: 'outside the range' },
    ]);
    const el = document.createElement('div');
    const plugin = markersPlugin(markers, (m) => ({ title: `${m.kind}: ${m.title}`, detail: m.actor ?? 'system' }));
    const u = new FakePlot({ width: 1000, height: 200, series: [], plugins: [plugin] }, [[T0, T0 + 180], [1, 2]], el);
    expect(u.lines).toEqual([
      { x: 500, color: markerColor('deploy') },
      { x: 667, color: markerColor('alert') },
    ]);
    const flags = el.querySelectorAll<HTMLElement>('[data-testid="marker-flag"]');
    expect(flags).toHaveLength(2);
    expect(flags[0]?.dataset.kind).toBe('deploy');
    expect(flags[0]?.style.left).toBe('500px');
    expect(flags[0]).not.toHaveClass('tip-left');
    expect(flags[1]).toHaveClass('tip-left'); // right half: the tooltip opens to the left
    expect(flags[0]?.getAttribute('aria-label')).toBe('deploy: web revision 3 — ada');
    expect(flags[0]?.querySelector('[data-testid="marker-tip"]')?.textContent).toBe('deploy: web revision 3ada');
    // redrawing replaces the flags instead of adding more; destroy removes the layer
    u.draw();
    expect(el.querySelectorAll('[data-testid="marker-flag"]')).toHaveLength(2);
    u.destroy();
    expect(el.querySelectorAll('[data-testid="marker-flag"]')).toHaveLength(0);
  });

  it('leaves out markers outside the plotted range', () => {
    const u = { scales: { x: { min: 10, max: 20 } }, valToPos: (v: number) => v * 2 } as unknown as Pick<uPlot, 'valToPos' | 'scales'>;
    expect(markerLeft(u, 15)).toBe(30);
    expect(markerLeft(u, 9)).toBeNull();
    expect(markerLeft(u, 21)).toBeNull();
    expect(markerLeft({ scales: {}, valToPos: () => 0 } as unknown as Pick<uPlot, 'valToPos' | 'scales'>, 15)).toBeNull();
  });
});

describe('formatting', () => {
  it('formats cores, bytes, money and ratios', () => {
    expect(coresText(1.256)).toBe('1.26');
    expect(coresText(0.005)).toBe('5m');
    expect(coresText(null)).toBe('—');
    expect(bytesText(512 * 1024 ** 2)).toBe('512 MiB');
    expect(bytesText(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(unitText(2 * 1024 ** 3, 'bytes')).toBe('2.0 GiB');
    expect(unitText(3, 'pods')).toBe('3');
    expect(moneyText('1234.5', 'USD', 'en')).toBe('$1,234.50');
    expect(moneyText('1234', 'KRW', 'ko')).toBe('₩1,234');
    expect(moneyText(null, 'KRW', 'ko')).toBe('—');
    expect(percentText(0.9234)).toBe('92.3%');
  });
});

describe('marker titles', () => {
  it('keep the English title in English and build the others from the params', async () => {
    const { default: i18n } = await import('../i18n');
    const { markerTitle } = await import('./markerText');
    const ko = i18n.getFixedT('ko');
    const deploy = { kind: 'deploy', title: 'Upgrade of web: revision 3 (web 1.2.0)', params: { release: 'web', revision: 3, action: 'upgrade', version: 'web 1.2.0', status: 'succeeded' } };
    expect(markerTitle(i18n.getFixedT('en'), 'en', deploy)).toBe('Upgrade of web: revision 3 (web 1.2.0)');
    expect(markerTitle(ko, 'ko', deploy)).toBe('web 업그레이드: 리비전 3 (web 1.2.0)');
    expect(markerTitle(ko, 'ko', { ...deploy, params: { ...deploy.params, status: 'failed' } })).toBe('web 업그레이드: 리비전 3 (web 1.2.0), 실패');
    expect(markerTitle(ko, 'ko', { kind: 'scale', title: 'Scale Deployment shop/web to 3 replicas', params: { action: 'scale', object_kind: 'Deployment', namespace: 'shop', name: 'web', replicas: 3 } })).toBe(
      'Deployment shop/web 레플리카 3개로 스케일',
    );
    expect(markerTitle(ko, 'ko', { kind: 'alert', title: 'Fired: x', params: { event: 'fired', rule: 'Pod crash-looping', subject_kind: 'Pod', namespace: 'shop', subject_name: 'web-1' } })).toBe(
      '발생: Pod crash-looping: Pod/shop/web-1',
    );
    expect(markerTitle(ko, 'ko', { kind: 'edit', title: 'Something new', params: { action: 'patch' } })).toBe('Something new');
    expect(markerTitle(ko, 'ko', { kind: 'deploy', title: 'No params' })).toBe('No params');
  });
});
