/**
 * capacity / allocatable / requested as one small bar: the track is capacity, a lighter band is
 * allocatable, the fill is what pods request. Numbers are shown beside it by the caller.
 */
export function UsageBar({
  capacity,
  allocatable,
  requested,
  label,
}: {
  capacity: number | null | undefined;
  allocatable?: number | null;
  requested?: number | null;
  label: string;
}) {
  const cap = capacity && capacity > 0 ? capacity : 0;
  const pct = (v: number | null | undefined) => (cap && v ? Math.min(100, Math.max(0, (v / cap) * 100)) : 0);
  const used = pct(requested);
  const level = used >= 90 ? 'high' : used >= 70 ? 'mid' : 'low';
  return (
    <span className="usage-bar" role="img" aria-label={label} title={label}>
      <span className="usage-alloc" style={{ width: `${pct(allocatable)}%` }} />
      <span className={`usage-fill usage-${level}`} style={{ width: `${used}%` }} />
    </span>
  );
}
