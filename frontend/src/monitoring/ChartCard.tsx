/**
 * One scope's charts: the CPU and the memory panel (usage against requests, limits, allocatable and
 * capacity, whatever the level has) drawn by uPlot, and where the page asks for them and the API
 * sent them the Network, Restarts, Disk and Volumes panels of the point metrics, the scope's markers as vertical lines with a
 * tooltip (markersPlugin) and listed underneath, and how fresh the data is (`last_sample`).
 */
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import type uPlot from 'uplot';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { relativeTime, useNow } from '../clusters/format';
import {
  METRIC_STYLE,
  isolatedIndices,
  latestValue,
  markerColor,
  panelsOf,
  placeMarkers,
  pointPanelsOf,
  type Panel,
  type PlacedMarker,
  type PointPanel,
} from './chartData';
import { unitText } from './format';
import { markersPlugin, type MarkerText } from './markersPlugin';
import { markerTitle } from './markerText';
import { useChart } from './queries';
import { toEpochSeconds, type RangeChoice } from './range';
import type { ChartResponse, ChartScope } from './types';
import { UPlotChart, type ChartOptions } from './UPlotChart';

/** Tick steps of a bytes axis: 1, 2, 4 … 512 of KiB, MiB, GiB, TiB (round numbers in binary units). */
export const BYTE_INCRS: number[] = [1, 2, 3, 4].flatMap((p) => [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((m) => m * 1024 ** p));

/** Data older than this is called stale (samples arrive every 30 s). */
export const STALE_SECONDS = 5 * 60;

function useMarkerText(): (m: PlacedMarker) => MarkerText {
  const { t, i18n } = useTranslation();
  return useMemo(() => {
    const fmt = new Intl.DateTimeFormat(i18n.language === 'ko' ? 'ko-KR' : 'en-US', { dateStyle: 'medium', timeStyle: 'short' });
    return (m: PlacedMarker) => ({
      title: `${t(`monitoring.marker.${m.kind}`, { defaultValue: m.kind })}: ${markerTitle(t, i18n.language, m)}`,
      detail: m.actor ? t('monitoring.marker.byAt', { actor: m.actor, at: fmt.format(m.ts * 1000) }) : t('monitoring.marker.byPortal', { at: fmt.format(m.ts * 1000) }),
    });
  }, [t, i18n.language]);
}

function PanelChart({ panel, markers, describe, testId }: { panel: Panel; markers: PlacedMarker[]; describe: (m: PlacedMarker) => MarkerText; testId: string }) {
  const { t } = useTranslation();
  const title = panel.resource === 'cpu' ? t('monitoring.chart.cpu') : t('monitoring.chart.memory');
  const metricsKey = panel.series.map((s) => s.metric).join(',');
  const options = useMemo<ChartOptions>(
    () => ({
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      series: [
        {},
        ...panel.series.map((s) => ({
          label: t(`monitoring.metric.${s.metric}`, { defaultValue: s.metric }),
          stroke: METRIC_STYLE[s.metric].stroke,
          width: METRIC_STYLE[s.metric].width,
          dash: METRIC_STYLE[s.metric].dash,
          fill: METRIC_STYLE[s.metric].fill,
          spanGaps: false,
          // a lone sample between gaps (a long range with few samples yet) is drawn as a dot
          points: {
            show: true,
            size: 5,
            filter: (u: uPlot, seriesIdx: number) => isolatedIndices((u.data[seriesIdx] ?? []) as (number | null)[]),
          },
          value: (_u: uPlot, v: number | null) => unitText(v, panel.unit),
        })),
      ],
      axes: [
        {},
        {
          size: 72,
          incrs: panel.unit === 'bytes' ? BYTE_INCRS : undefined,
          values: (_u: uPlot, splits: number[]) => splits.map((v) => unitText(v, panel.unit)),
        },
      ],
      plugins: [markersPlugin(markers, describe)],
    }),
    // the series list (not its values) and the markers shape the plot; values go through setData
    [metricsKey, panel.unit, markers, describe, t],
  );
  const data = useMemo<uPlot.AlignedData>(() => [panel.xs, ...panel.series.map((s) => s.values)], [panel]);
  return (
    <figure className="metric-panel" data-testid={testId} data-resource={panel.resource}>
      <figcaption className="metric-panel-title">
        {title} <span className="muted small">({panel.unit === 'bytes' ? t('monitoring.unit.bytes') : t('monitoring.unit.cores')})</span>
      </figcaption>
      <UPlotChart options={options} data={data} label={title} testId={`${testId}-plot`} />
    </figure>
  );
}

/** A panel of point metrics: network rates, restarts, the pod's disk or each claim's fill (0-100 %). */
function PointPanelChart({ panel, markers, describe }: { panel: PointPanel; markers: PlacedMarker[]; describe: (m: PlacedMarker) => MarkerText }) {
  const { t } = useTranslation();
  const title = t(`monitoring.points.${panel.kind}`);
  const seriesKey = panel.series.map((s) => s.key).join(',');
  const options = useMemo<ChartOptions>(
    () => ({
      scales: {
        x: { time: true },
        y: { range: (_u, min, max) => (panel.max !== null ? [0, panel.max] : [Math.min(0, min), max > 0 ? max * 1.1 : 1]) },
      },
      series: [
        {},
        ...panel.series.map((s) => ({
          label: s.label ? s.label : t(`monitoring.points.metric.${s.metric}`, { defaultValue: s.metric }),
          stroke: s.stroke,
          width: s.width,
          fill: s.fill,
          spanGaps: false,
          points: {
            show: true,
            size: 5,
            filter: (u: uPlot, seriesIdx: number) => isolatedIndices((u.data[seriesIdx] ?? []) as (number | null)[]),
          },
          value: (_u: uPlot, v: number | null) => unitText(v, panel.unit),
        })),
      ],
      axes: [
        {},
        {
          size: 72,
          incrs: panel.unit === 'bytes' ? BYTE_INCRS : undefined,
          values: (_u: uPlot, splits: number[]) => splits.map((v) => unitText(v, panel.unit)),
        },
      ],
      plugins: [markersPlugin(markers, describe)],
    }),
    // the series list (not its values) shapes the plot; values go through setData
    [seriesKey, panel.kind, panel.unit, panel.max, markers, describe, t],
  );
  const data = useMemo<uPlot.AlignedData>(() => [panel.xs, ...panel.series.map((s) => s.values)], [panel]);
  return (
    <figure className="metric-panel" data-testid={`panel-${panel.kind}`} data-kind={panel.kind}>
      <figcaption className="metric-panel-title">
        {title} <span className="muted small">({t(`monitoring.points.unit.${panel.unit}`)})</span>
      </figcaption>
      <UPlotChart options={options} data={data} label={title} testId={`panel-${panel.kind}-plot`} />
      {panel.kind === 'volumes' && (
        <ul className="plain-list small muted" data-testid="panel-volumes-claims">
          {panel.series.map((s) => (
            <li key={s.key} data-testid="volume-claim" data-claim={s.label}>
              <span className="marker-swatch" aria-hidden="true" style={{ background: s.stroke }} /> <span className="mono">{s.label}</span>{' '}
              {unitText(lastOf(s.values), 'percent')}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}

function lastOf(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i -= 1) {
    const v = values[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

export function MarkerList({ markers, describe }: { markers: PlacedMarker[]; describe: (m: PlacedMarker) => MarkerText }) {
  const { t } = useTranslation();
  if (markers.length === 0) return null;
  return (
    <div className="chart-markers">
      <h3 className="small muted">{t('monitoring.marker.heading', { count: markers.length })}</h3>
      <ul className="plain-list marker-list" data-testid="chart-markers">
        {[...markers].reverse().map((m, i) => {
          const text = describe(m);
          return (
            <li key={`${m.ts}-${m.kind}-${i}`} data-testid="chart-marker" data-kind={m.kind} className="marker-item">
              <span className="marker-swatch" aria-hidden="true" data-kind={m.kind} style={{ background: markerColor(m.kind) }} />
              <span className="marker-title">{text.title}</span> <span className="muted small">{text.detail}</span>
              {m.link && (
                <>
                  {' '}
                  {m.link.startsWith('/') ? (
                    <Link to={m.link} className="small">
                      {t('monitoring.marker.open')}
                    </Link>
                  ) : (
                    <a href={m.link} className="small" rel="noreferrer">
                      {t('monitoring.marker.open')}
                    </a>
                  )}
                </>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

export function Freshness({ chart }: { chart: Pick<ChartResponse, 'last_sample' | 'source' | 'step'> }) {
  const { t, i18n } = useTranslation();
  const now = useNow(15_000);
  const last = toEpochSeconds(chart.last_sample);
  const source = t(`monitoring.source.${chart.source}`, { defaultValue: chart.source });
  if (last === null) {
    return (
      <span className="small muted" data-testid="chart-freshness" data-fresh="none">
        {t('monitoring.fresh.none')}
      </span>
    );
  }
  const stale = now / 1000 - last > STALE_SECONDS;
  const when = relativeTime(new Date(last * 1000).toISOString(), now, i18n.language) ?? '';
  return (
    <span className={`small ${stale ? 'warn-text' : 'muted'}`} data-testid="chart-freshness" data-fresh={stale ? 'stale' : 'fresh'} title={new Date(last * 1000).toISOString()}>
      {stale ? t('monitoring.fresh.stale', { when }) : t('monitoring.fresh.last', { when })} · {source}
    </span>
  );
}

/** The charts of one scope over the page's time range. */
export function ChartCard({
  scope,
  range,
  title,
  testId = 'chart',
  pointPanels = false,
}: {
  scope: ChartScope;
  range: RangeChoice;
  title?: string;
  testId?: string;
  /** Also draw the Network, Restarts, Disk and Volumes panels when the answer has their series. */
  pointPanels?: boolean;
}) {
  const { t } = useTranslation();
  const chart = useChart(scope, range);
  const describe = useMarkerText();
  const panels = useMemo(() => (chart.data ? panelsOf(chart.data) : []), [chart.data]);
  const points = useMemo(() => (chart.data && pointPanels ? pointPanelsOf(chart.data) : []), [chart.data, pointPanels]);
  const markers = useMemo(() => placeMarkers(chart.data?.markers), [chart.data]);
  const pods = chart.data ? latestValue(chart.data, 'pods') : null;
  const hasPoints = panels.some((p) => p.series.some((s) => s.values.some((v) => v !== null)));
  return (
    <section className="card chart-card" data-testid={testId} data-level={scope.level}>
      <header className="chart-card-header">
        {title && <h2 className="card-title">{title}</h2>}
        {pods !== null && (
          <span className="small muted" data-testid="chart-pods">
            {t('monitoring.chart.pods', { count: Math.round(pods) })}
          </span>
        )}
        {chart.data && <Freshness chart={chart.data} />}
      </header>
      {chart.isPending && <Loading />}
      {chart.isError && <ErrorState error={chart.error} onRetry={() => void chart.refetch()} />}
      {chart.data && !hasPoints && (
        <p className="muted empty-line" data-testid="chart-empty">
          {t('monitoring.chart.empty')}
        </p>
      )}
      {chart.data?.fallback === 'pod' && (
        <p className="small muted" data-testid="chart-fallback">
          {t('monitoring.chart.fallback')}
        </p>
      )}
      {chart.data && panels.length > 0 && hasPoints && (
        <div className="metric-panels">
          {panels.map((p) => (
            <PanelChart key={p.resource} panel={p} markers={markers} describe={describe} testId={`panel-${p.resource}`} />
          ))}
        </div>
      )}
      {chart.data && points.length > 0 && (
        <div className="metric-panels" data-testid="point-panels">
          {points.map((p) => (
            <PointPanelChart key={p.kind} panel={p} markers={markers} describe={describe} />
          ))}
        </div>
      )}
      {chart.data && <MarkerList markers={markers} describe={describe} />}
    </section>
  );
}
