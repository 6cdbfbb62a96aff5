/** A small inline SVG line of ratios (0–1) over time: no chart library on the dashboard route. */
export function Sparkline({
  points,
  label,
  width = 96,
  height = 24,
  testId,
}: {
  points: readonly (readonly [string, number])[];
  label: string;
  width?: number;
  height?: number;
  testId?: string;
}) {
  if (points.length < 2) return null;
  const max = Math.max(1, ...points.map(([, v]) => v));
  const step = width / (points.length - 1);
  const path = points
    .map(([, v], i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`)
    .join(' ');
  return (
    <svg
      className="sparkline"
      role="img"
      aria-label={label}
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      data-testid={testId}
    >
      <polyline points={path} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}
