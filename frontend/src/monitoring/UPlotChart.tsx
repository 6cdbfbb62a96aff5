/**
 * The one React wrapper around uPlot: creates the plot in a div, sizes it to its container (a
 * ResizeObserver), swaps the data in place when only the data changes and builds a new plot when
 * the options change. Callers memoise `options` (series, axes, plugins).
 *
 * A canvas cannot use CSS variables: the axes' text, ticks and grid take the theme's colours
 * (--muted, --border) when the plot is built, and the plot is built again when the theme
 * changes (lib/theme.ts), so the charts stay readable in dark mode.
 */
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useResolvedTheme } from '../lib/theme';

export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

function cssColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

/** `options` with the axes drawn in the current theme's colours (unless a caller set them). */
export function themedOptions(options: ChartOptions): ChartOptions {
  const text = cssColor('--muted', '#5a6675');
  const line = cssColor('--border', '#dde2ea');
  const axes = (options.axes && options.axes.length > 0 ? options.axes : [{}, {}]).map((axis) => ({
    stroke: text,
    ...axis,
    grid: { stroke: line, width: 1, ...axis.grid },
    ticks: { stroke: line, width: 1, ...axis.ticks },
  }));
  return { ...options, axes };
}

export function UPlotChart({
  options,
  data,
  height = 220,
  testId,
  label,
}: {
  options: ChartOptions;
  data: uPlot.AlignedData;
  height?: number;
  testId?: string;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latestData = useRef(data);
  const [failed, setFailed] = useState(false);
  const theme = useResolvedTheme();
  latestData.current = data;

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    let instance: uPlot | null = null;
    try {
      instance = new uPlot({ ...themedOptions(options), width: Math.max(200, el.clientWidth || 600), height }, latestData.current, el);
      setFailed(false);
    } catch {
      setFailed(true); // no canvas (an old browser, a test DOM): the caller's tables still say it all
      return undefined;
    }
    plot.current = instance;
    let observer: ResizeObserver | null = null;
    if (typeof ResizeObserver !== 'undefined') {
      observer = new ResizeObserver(() => {
        const width = Math.max(200, el.clientWidth);
        if (instance && width !== instance.width) instance.setSize({ width, height });
      });
      observer.observe(el);
    }
    return () => {
      observer?.disconnect();
      instance?.destroy();
      plot.current = null;
    };
    // `theme`: rebuilt in the new colours (themedOptions reads them from the stylesheet).
  }, [options, height, theme]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <div className="uplot-box" ref={box} data-testid={testId} role="img" aria-label={label} data-failed={failed ? 'true' : undefined} />
  );
}
