/**
 * From the chart API's answer to what uPlot draws: the CPU and memory panels (series split by the
 * metric's prefix), aligned on one time axis with gaps as null, and the markers placed in time.
 */
import { toEpochSeconds } from './range';
import type { ChartMarker, ChartResponse, ChartSeries } from './types';

export type Resource = 'cpu' | 'mem';

/** Order and look of the metrics of a panel (what the legend lists first). */
export const METRIC_ORDER = ['usage', 'usage_max', 'request', 'limit', 'billed', 'allocatable', 'capacity'] as const;
export type MetricName = (typeof METRIC_ORDER)[number];

export const METRIC_STYLE: Record<MetricName, { stroke: string; dash?: number[]; width: number; fill?: string }> = {
  usage: { stroke: '#1f6feb', width: 2, fill: 'rgba(31, 111, 235, 0.10)' },
  usage_max: { stroke: '#79a8f2', width: 1, dash: [2, 3] },
  request: { stroke: '#e3861b', width: 1.5 },
  limit: { stroke: '#d1242f', width: 1.5, dash: [6, 4] },
  billed: { stroke: '#8250df', width: 1, dash: [3, 3] },
  allocatable: { stroke: '#1a7f37', width: 1.5 },
  capacity: { stroke: '#6e7781', width: 1.5, dash: [8, 4] },
};

export interface PanelSeries {
  metric: MetricName;
  unit: string;
  values: (number | null)[];
}

export interface Panel {
  resource: Resource;
  unit: string;
  xs: number[];
  series: PanelSeries[];
}

function split(metric: string): { resource: Resource; name: MetricName } | null {
  const m = /^(cpu|mem|memory)_(.+)$/.exec(metric);
  if (!m) return null;
  const name = m[2] as MetricName;
  if (!(METRIC_ORDER as readonly string[]).includes(name)) return null;
  return { resource: m[1] === 'cpu' ? 'cpu' : 'mem', name };
}

/** Every timestamp of the given series, sorted and unique. */
export function alignedTimes(series: ChartSeries[]): number[] {
  const seen = new Set<number>();
  for (const s of series) for (const [ts] of s.points) seen.add(ts);
  return [...seen].sort((a, b) => a - b);
}

/** The series' values on `xs`, null where the series has no point. */
export function valuesOn(xs: number[], points: ChartSeries['points']): (number | null)[] {
  const byTs = new Map<number, number | null>();
  for (const [ts, v] of points) byTs.set(ts, v === null || v === undefined || !Number.isFinite(v) ? null : v);
  return xs.map((x) => byTs.get(x) ?? null);
}

/** The CPU and memory panels of a chart answer (a panel only when it has a series). */
export function panelsOf(chart: Pick<ChartResponse, 'series'>): Panel[] {
  const panels: Panel[] = [];
  for (const resource of ['cpu', 'mem'] as const) {
    const mine = chart.series
      .map((s) => ({ s, parts: split(s.metric) }))
      .filter((x): x is { s: ChartSeries; parts: { resource: Resource; name: MetricName } } => x.parts !== null && x.parts.resource === resource)
      .sort((a, b) => METRIC_ORDER.indexOf(a.parts.name) - METRIC_ORDER.indexOf(b.parts.name));
    if (mine.length === 0) continue;
    const xs = alignedTimes(mine.map((x) => x.s));
    panels.push({
      resource,
      unit: mine[0]?.s.unit || (resource === 'cpu' ? 'cores' : 'bytes'),
      xs,
      series: mine.map(({ s, parts }) => ({ metric: parts.name, unit: s.unit, values: valuesOn(xs, s.points) })),
    });
  }
  return panels;
}

export interface PlacedMarker extends ChartMarker {
  ts: number;
}

/** Markers with their epoch time, oldest first; markers without a readable time are dropped. */
export function placeMarkers(markers: ChartMarker[] | undefined): PlacedMarker[] {
  return (markers ?? [])
    .map((m) => ({ ...m, ts: toEpochSeconds(m.at) ?? Number.NaN }))
    .filter((m) => Number.isFinite(m.ts))
    .sort((a, b) => a.ts - b.ts);
}

export const MARKER_COLORS: Record<string, string> = {
  deploy: '#1a7f37',
  rollback: '#bc4c00',
  scale: '#0969da',
  restart: '#8250df',
  alert: '#cf222e',
  edit: '#6e7781',
};

export function markerColor(kind: string): string {
  return MARKER_COLORS[kind] ?? '#6e7781';
}

/** Indices of values with no neighbour (null on both sides): a line cannot show them, a dot must. */
export function isolatedIndices(values: (number | null)[]): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (v === null) return;
    const before = i > 0 ? values[i - 1] : null;
    const after = i < values.length - 1 ? values[i + 1] : null;
    if ((before === null || before === undefined) && (after === null || after === undefined)) out.push(i);
  });
  return out;
}

/** The newest non-null value of a metric in a chart answer (the pod count now, say), or null. */
export function latestValue(chart: Pick<ChartResponse, 'series'>, metric: string): number | null {
  const series = chart.series.find((s) => s.metric === metric);
  if (!series) return null;
  for (let i = series.points.length - 1; i >= 0; i -= 1) {
    const v = series.points[i]?.[1];
    if (v !== null && v !== undefined && Number.isFinite(v)) return v;
  }
  return null;
}

/**
 * The point metrics of a chart answer (docs/charts-api.md "Point metrics"): network (received and
 * sent bytes per second), restarts, the pod's filesystem use and each claim's fill. The API sends
 * them only where the scope has them, so a panel exists only when its series came back.
 */
export type PointPanelKind = 'network' | 'restarts' | 'disk' | 'volumes';

export const POINT_PANEL_ORDER: readonly PointPanelKind[] = ['network', 'restarts', 'disk', 'volumes'];

const POINT_METRIC_PANEL: Record<string, PointPanelKind> = {
  net_rx_bytes_per_second: 'network',
  net_tx_bytes_per_second: 'network',
  restarts: 'restarts',
  fs_used_bytes: 'disk',
  pvc_used_ratio: 'volumes',
};

export type PointUnit = 'bytes_per_second' | 'count' | 'bytes' | 'percent';

const POINT_UNIT: Record<PointPanelKind, PointUnit> = { network: 'bytes_per_second', restarts: 'count', disk: 'bytes', volumes: 'percent' };

export const POINT_STYLE: Record<string, { stroke: string; width: number; fill?: string; dash?: number[] }> = {
  net_rx_bytes_per_second: { stroke: '#1f6feb', width: 2, fill: 'rgba(31, 111, 235, 0.10)' },
  net_tx_bytes_per_second: { stroke: '#e3861b', width: 2 },
  restarts: { stroke: '#8250df', width: 2 },
  fs_used_bytes: { stroke: '#1a7f37', width: 2, fill: 'rgba(26, 127, 55, 0.10)' },
};

/** Colours of the claims of a volumes panel, in turn. */
export const CLAIM_COLORS = ['#1f6feb', '#e3861b', '#1a7f37', '#8250df', '#cf222e', '#0969da', '#bc4c00', '#6e7781'];

export interface PointPanelSeries {
  /** Unique in the panel: the metric, or `pvc_used_ratio:<claim>`. */
  key: string;
  metric: string;
  /** The claim of a volume series. */
  label?: string;
  stroke: string;
  width: number;
  fill?: string;
  values: (number | null)[];
}

export interface PointPanel {
  kind: PointPanelKind;
  /** A claim's fill is in percent (0-100). */
  unit: PointUnit;
  xs: number[];
  series: PointPanelSeries[];
  /** A fixed top of the y axis (100 for percent), else null: fit the data. */
  max: number | null;
}

/** The Network, Restarts, Disk and Volumes panels of a chart answer, each only when the answer has
 * its series; claims sorted by name, their fill in percent (the API sends a 0-1 ratio). */
export function pointPanelsOf(chart: Pick<ChartResponse, 'series'>): PointPanel[] {
  const panels: PointPanel[] = [];
  const metricOrder = Object.keys(POINT_METRIC_PANEL);
  for (const kind of POINT_PANEL_ORDER) {
    const mine = chart.series
      .filter((s) => POINT_METRIC_PANEL[s.metric] === kind)
      .sort((a, b) => metricOrder.indexOf(a.metric) - metricOrder.indexOf(b.metric) || (a.label ?? '').localeCompare(b.label ?? ''));
    if (mine.length === 0) continue;
    const xs = alignedTimes(mine);
    panels.push({
      kind,
      unit: POINT_UNIT[kind],
      xs,
      max: kind === 'volumes' ? 100 : null,
      series: mine.map((s, i) => {
        const values = valuesOn(xs, s.points);
        if (kind === 'volumes') {
          return {
            key: `${s.metric}:${s.label ?? ''}`,
            metric: s.metric,
            label: s.label ?? '',
            stroke: CLAIM_COLORS[i % CLAIM_COLORS.length] ?? '#6e7781',
            width: 2,
            values: values.map((v) => (v === null ? null : Math.round(v * 1000) / 10)),
          };
        }
        const style = POINT_STYLE[s.metric] ?? { stroke: '#6e7781', width: 1.5 };
        return { key: s.metric, metric: s.metric, stroke: style.stroke, width: style.width, fill: style.fill, values };
      }),
    });
  }
  return panels;
}
