/**
 * Hand-written shapes of the monitoring API (/api/monitoring/, the issue 14 contract in
 * docs/charts-api.md and docs/metering.md) until the endpoints are in the generated schema.
 * Fields the console does not need are left out; optional ones may be missing on older servers.
 */

export type ChartLevel = 'fleet' | 'cluster' | 'node' | 'workspace' | 'servicemap' | 'workload' | 'pod' | 'container';

/** What a chart is about: the level and the ids/names the chart API takes for it. */
export interface ChartScope {
  level: ChartLevel;
  cluster?: number;
  node?: string;
  workspace?: number;
  service_map?: number;
  namespace?: string;
  workload_kind?: string;
  workload_name?: string;
  pod?: string;
  container?: string;
}

/** One point: [epoch seconds, value or null for a gap]. */
export type ChartPoint = [number, number | null];

export interface ChartSeries {
  metric: string;
  /** cores, bytes, count; for the point metrics also bytes_per_second and ratio. */
  unit: string;
  points: ChartPoint[];
  /** pvc_used_ratio: the claim the series is of. */
  label?: string;
}

export type MarkerKind = 'deploy' | 'rollback' | 'scale' | 'restart' | 'alert' | 'edit';

export interface ChartMarker {
  /** ISO time (or epoch seconds) of the change. */
  at: string | number;
  kind: MarkerKind | string;
  title: string;
  actor?: string | null;
  severity?: string | null;
  link?: string | null;
  params?: Record<string, unknown>;
}

export interface ChartResponse {
  level: ChartLevel;
  start: string | number;
  end: string | number;
  step: number;
  source: 'raw' | '5m' | '1h' | string;
  series: ChartSeries[];
  markers: ChartMarker[];
  /** When the newest sample of the scope was taken (null: none yet). */
  last_sample: string | number | null;
  /** "pod": a one-container pod's container chart shows the pod's figures. */
  fallback?: string | null;
}

export type TopWhat = 'busiest_pods' | 'nodes_fullest' | 'pods_near_limit';

export type TopResource = 'cpu' | 'memory';

export interface TopItem {
  cluster_id: number;
  /** The cluster's name. */
  cluster?: string;
  cluster_name?: string;
  /** The unit of `value`: cores or bytes. */
  unit?: string;
  usage?: number | null;
  request?: number | null;
  limit?: number | null;
  allocatable?: number | null;
  usage_ratio?: number | null;
  namespace?: string;
  name: string;
  node?: string;
  value: number | null;
  ratio: number | null;
  metric?: string;
  workload_kind?: string;
  workload_name?: string;
  [key: string]: unknown;
}

export interface TopResponse {
  what: TopWhat;
  resource?: TopResource;
  items: TopItem[];
}

export interface EventRow {
  id: number;
  cluster: number | { id: number; name: string };
  service_map?: { id: number; namespace: string; display_name: string; workspace: number } | null;
  cluster_name?: string;
  uid?: string;
  namespace: string;
  type: string;
  reason: string;
  message: string;
  object_kind: string;
  object_name: string;
  count: number;
  first_seen: string | null;
  last_seen: string;
  source?: string;
}

export interface CursorPage<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface EventQuery {
  cluster?: number;
  namespace?: string;
  service_map?: number;
  type?: string;
  reason?: string;
  object_kind?: string;
  object_name?: string;
  since?: string;
  /** `-warning`: warnings first, then newest first (default `-last_seen`). */
  ordering?: string;
}

export type MeteringGroup = 'workspace' | 'cluster' | 'servicemap' | 'workload';

/** A reference the metering rows carry: an id and a name, or just a name, or null. */
export type Ref =
  | { id?: number | null; name?: string | null; display_name?: string | null; namespace?: string | null; kind?: string | null }
  | string
  | number
  | null;

export interface MeteringFigures {
  cpu_core_hours_requested: number | string;
  cpu_core_hours_used: number | string;
  cpu_core_hours_billed: number | string;
  memory_gib_hours_requested: number | string;
  memory_gib_hours_used: number | string;
  memory_gib_hours_billed: number | string;
  /** The cost when it is in one currency (null: none applied, or several currencies). */
  cost?: number | string | null;
  currency?: string | null;
  /** Cost per currency (decimal strings). */
  costs?: Record<string, string | number>;
  /** Some billed hours fell where no price sheet was in force. */
  unpriced?: boolean;
}

export interface MeteringRow extends MeteringFigures {
  workspace?: Ref;
  cluster?: Ref;
  service_map?: Ref;
  workload?: Ref;
  namespace?: string | null;
}

export interface IdleRow {
  cluster: Ref;
  cpu_core_hours_allocatable?: number | string;
  cpu_core_hours_billed?: number | string;
  memory_gib_hours_allocatable?: number | string;
  memory_gib_hours_billed?: number | string;
  cpu_core_hours_idle: number | string;
  memory_gib_hours_idle: number | string;
  cost?: number | string | null;
  currency?: string | null;
  costs?: Record<string, string | number>;
  unpriced?: boolean;
}

export interface MeteringReport {
  month: string;
  group: MeteringGroup;
  rows: MeteringRow[];
  /** The six amounts summed, `costs` per currency, `unpriced`. */
  totals?: MeteringFigures | null;
  /** Per cluster; null when the caller does not see the infrastructure. */
  idle?: IdleRow[] | null;
  currencies?: string[];
  start?: string;
  end?: string;
}

export interface MeteringQuery {
  month: string;
  group: MeteringGroup;
  workspace?: number;
  cluster?: number;
  service_map?: number;
}

export type Currency = 'KRW' | 'USD' | 'EUR' | 'JPY';

export interface PriceSheet {
  id: number;
  name: string;
  cluster: number | null | { id: number; name: string };
  provider: string;
  currency: Currency | string;
  cpu_core_hour: string | number;
  memory_gib_hour: string | number;
  effective_from: string;
  created?: string;
  updated?: string;
}

export interface PriceSheetBody {
  name: string;
  cluster: number | null;
  provider: string;
  currency: string;
  cpu_core_hour: string;
  memory_gib_hour: string;
  effective_from: string;
}
