/**
 * A uPlot plugin that draws the chart's markers (deploys, rollbacks, scale changes, alerts …) as
 * vertical lines on the canvas (hooks.draw) and puts a small flag above each line in the plot's
 * overlay, a focusable element whose tooltip says who changed what and when.
 */
import type uPlot from 'uplot';
import { markerColor, type PlacedMarker } from './chartData';

export interface MarkerText {
  /** The first line of the tooltip (kind and title). */
  title: string;
  /** The second line (who, when). */
  detail: string;
}

/** The x of a marker in CSS pixels of the overlay, or null when it is outside the plotted range. */
export function markerLeft(u: Pick<uPlot, 'valToPos' | 'scales'>, ts: number): number | null {
  const { min, max } = u.scales.x ?? {};
  if (min === undefined || max === undefined || min === null || max === null) return null;
  if (ts < min || ts > max) return null;
  const left = u.valToPos(ts, 'x');
  return Number.isFinite(left) ? left : null;
}

export function markersPlugin(markers: PlacedMarker[], describe: (m: PlacedMarker) => MarkerText): uPlot.Plugin {
  let layer: HTMLDivElement | null = null;
  return {
    hooks: {
      init: (u: uPlot) => {
        layer = document.createElement('div');
        layer.className = 'chart-marker-layer';
        u.over.appendChild(layer);
      },
      draw: (u: uPlot) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        ctx.save();
        ctx.lineWidth = Math.max(1, devicePixelRatioOf());
        ctx.setLineDash([4 * devicePixelRatioOf(), 3 * devicePixelRatioOf()]);
        for (const m of markers) {
          if (markerLeft(u, m.ts) === null) continue;
          const x = Math.round(u.valToPos(m.ts, 'x', true));
          ctx.strokeStyle = markerColor(m.kind);
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
        }
        ctx.restore();
        if (!layer) return;
        layer.replaceChildren();
        markers.forEach((m, index) => {
          const left = markerLeft(u, m.ts);
          if (left === null || !layer) return;
          const text = describe(m);
          const flag = document.createElement('span');
          flag.className = `chart-marker-flag marker-${m.kind}`;
          flag.tabIndex = 0;
          flag.dataset.testid = 'marker-flag';
          flag.dataset.kind = m.kind;
          flag.dataset.index = String(index);
          flag.setAttribute('role', 'img');
          flag.setAttribute('aria-label', `${text.title} — ${text.detail}`);
          flag.style.left = `${left}px`;
          // in the right half the tooltip opens to the left, so it stays inside the chart
          if (left > u.bbox.width / devicePixelRatioOf() / 2) flag.classList.add('tip-left');
          flag.style.borderTopColor = markerColor(m.kind);
          const tip = document.createElement('span');
          tip.className = 'chart-marker-tip';
          tip.dataset.testid = 'marker-tip';
          const strong = document.createElement('strong');
          strong.textContent = text.title;
          const detail = document.createElement('span');
          detail.textContent = text.detail;
          tip.append(strong, detail);
          flag.appendChild(tip);
          layer.appendChild(flag);
        });
      },
      destroy: () => {
        layer?.remove();
        layer = null;
      },
    },
  };
}

function devicePixelRatioOf(): number {
  return typeof window === 'undefined' ? 1 : window.devicePixelRatio || 1;
}
