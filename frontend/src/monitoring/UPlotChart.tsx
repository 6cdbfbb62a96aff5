/**
 * The one React wrapper around uPlot: creates the plot in a div, sizes it to its container (a
 * ResizeObserver), swaps the data in place when only the data changes and builds a new plot when
 * the options change. Callers memoise `options` (series, axes, plugins).
 */
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

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
  latestData.current = data;

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    let instance: uPlot | null = null;
    try {
      instance = new uPlot({ ...options, width: Math.max(200, el.clientWidth || 600), height }, latestData.current, el);
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
  }, [options, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <div className="uplot-box" ref={box} data-testid={testId} role="img" aria-label={label} data-failed={failed ? 'true' : undefined} />
  );
}
