/**
 * A stand-in for uPlot in unit tests (jsdom has no canvas): it keeps the options and data it was
 * given, builds the root/over elements, runs the plugins' init and draw hooks against a recording
 * canvas context, and maps values to pixels linearly over a 1000 px wide plot. Tests only:
 *   vi.mock('uplot', async () => (await import('./testUplot')).uplotModule);
 */
import type uPlot from 'uplot';

type Hooks = { init?: (u: FakePlot) => void; draw?: (u: FakePlot) => void; destroy?: (u: FakePlot) => void };

export class FakePlot {
  static instances: FakePlot[] = [];
  static paths = { bars: () => () => null };
  readonly root = document.createElement('div');
  readonly over = document.createElement('div');
  readonly lines: { x: number; color: string }[] = [];
  readonly bbox = { left: 0, top: 0, width: 1000, height: 200 };
  readonly scales: { x: { min: number; max: number } } = { x: { min: 0, max: 1 } };
  width: number;
  ctx: Record<string, unknown>;
  options: uPlot.Options;
  data: uPlot.AlignedData;
  destroyed = false;

  constructor(options: uPlot.Options, data: uPlot.AlignedData, el: HTMLElement) {
    this.options = options;
    this.data = data;
    this.width = options.width;
    this.root.className = 'uplot';
    const canvas = document.createElement('canvas');
    canvas.dataset.testid = 'uplot-canvas';
    this.root.append(canvas, this.over);
    el.appendChild(this.root);
    let stroke = '';
    let x = 0;
    this.ctx = {
      save: () => undefined,
      restore: () => undefined,
      setLineDash: () => undefined,
      beginPath: () => undefined,
      moveTo: (px: number) => {
        x = px;
      },
      lineTo: () => undefined,
      stroke: () => this.lines.push({ x, color: stroke }),
      set strokeStyle(v: string) {
        stroke = v;
      },
      get strokeStyle() {
        return stroke;
      },
      lineWidth: 1,
    };
    this.setScale();
    FakePlot.instances.push(this);
    for (const p of this.plugins()) p.init?.(this);
    this.draw();
  }

  private plugins(): Hooks[] {
    return (this.options.plugins ?? []).map((p) => p.hooks as Hooks);
  }

  private setScale() {
    const xs = (this.data[0] ?? []) as number[];
    if (xs.length > 0) this.scales.x = { min: xs[0] ?? 0, max: xs[xs.length - 1] ?? 1 };
  }

  draw() {
    this.lines.length = 0;
    for (const p of this.plugins()) p.draw?.(this);
  }

  valToPos(value: number): number {
    const { min, max } = this.scales.x;
    return max === min ? 0 : ((value - min) / (max - min)) * this.bbox.width;
  }

  setData(data: uPlot.AlignedData) {
    this.data = data;
    this.setScale();
    this.draw();
  }

  setSize({ width }: { width: number }) {
    this.width = width;
  }

  destroy() {
    this.destroyed = true;
    for (const p of this.plugins()) p.destroy?.(this);
    this.root.remove();
  }
}

export const uplotModule = { default: FakePlot };
