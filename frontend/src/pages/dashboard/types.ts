/** The answer of GET /api/dashboard/ (docs/dashboards.md), written by hand until the schema is regenerated. */

export type DashboardRole = 'admin' | 'operator' | 'developer';
export type Attention = 0 | 1 | 2 | 3;

export interface Tile<K extends string = string, D = Record<string, unknown>> {
  key: K;
  role: DashboardRole;
  attention: Attention;
  as_of: string | null;
  link: string;
  data: D;
}

export interface Dashboard {
  generated_at: string;
  roles: DashboardRole[];
  groups: string[];
  tiles: Tile[];
}

export interface Ref {
  id: number;
  name: string;
}

export interface ClusterRef extends Ref {
  display_name?: string;
  status: string;
  freshness: string;
  last_sync: string | null;
  message_code?: string;
  message_params?: Record<string, unknown>;
  link: string;
}

export type Series = [string, number][];

export interface FleetData {
  clusters: { total: number; by_status: Record<string, number>; by_freshness: Record<string, number> };
  nodes: { total: number; not_ready: number };
  certificates: { within_days: number; count: number; expiring: { id: number; name: string; not_after: string; days: number; link: string }[] };
  attention: ClusterRef[];
}

export interface ClustersData {
  total: number;
  by_status: Record<string, number>;
  by_freshness: Record<string, number>;
  clusters: ClusterRef[];
}

export interface CapacityRow {
  id: number;
  name: string;
  freshness: string;
  last_sync: string | null;
  cpu: { requested: number; allocatable: number; ratio: number | null };
  memory: { requested: number; allocatable: number; ratio: number | null };
  trend: { cpu: Series; memory: Series };
  link: string;
}

export interface CapacityData {
  clusters: CapacityRow[];
  total: number;
  trend_hours: number;
}

export interface NodesData {
  count: number;
  nodes: { cluster: Ref; name: string; ready: boolean; unschedulable: boolean; conditions: string[]; link: string }[];
}

export interface AlertRow {
  id: number;
  severity: string;
  state: string;
  rule: string;
  cluster: Ref | null;
  namespace: string;
  subject_kind: string;
  subject_name: string;
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
  fired_at: string | null;
  link: string;
}

export interface AlertsData {
  by_severity: Record<string, Record<string, number>>;
  open: number;
  firing: number;
}

export interface FiringData {
  count: number;
  by_severity: Record<string, number>;
  alerts: AlertRow[];
}

export interface EventsData {
  window_minutes: number;
  count: number;
  reasons: { reason: string; count: number }[];
  events: { id: number; cluster: Ref; namespace: string; reason: string; message: string; object_kind: string; object_name: string; count: number; last_seen: string }[];
}

export interface CostData {
  month: string;
  currencies: string[];
  total: Record<string, string>;
  workspaces: { workspace: { id: number; name: string; display_name?: string } | null; costs: Record<string, string>; unpriced: boolean; cpu_core_hours: number; memory_gib_hours: number; link: string }[];
  count: number;
  unpriced: boolean;
}

export interface AllocationRow {
  workspace: { id: number; name: string; display_name: string };
  cluster: Ref;
  quota: Record<string, string>;
  used: Record<string, string>;
  ratio: number;
  link: string;
}

export interface QuotaData {
  allocations: AllocationRow[];
  count: number;
  workspaces?: number;
}

export interface AuditData {
  window_hours: number;
  by_outcome: Record<string, number>;
  entries: { id: number; timestamp: string; actor: string; action: string; target: string; outcome: string }[];
}

export interface HealthData {
  workers: { alive: number; total: number; known: boolean; list: { name: string; queues: string[]; age: number; alive: boolean; last_beat: string }[] };
  watchers: { clusters: number; unwatched: number; lagging: number; lag_warn_seconds: number; worst: { id: number; name: string; lag_seconds: number | null; watched: boolean; freshness: string; link: string }[] };
  outbox: { pending: number; sending: number; oldest_age_seconds: number | null };
}

export interface ServiceMapRow {
  id: number;
  namespace: string;
  display_name: string;
  workspace: Ref;
  cluster: Ref;
  status: string;
  in_sync: boolean;
  workloads: { total: number; ready: number };
  pods: { total: number; running: number; failed: number };
  restarts: number;
  alerts: { open: number; firing: number };
  attention: Attention;
  link: string;
}

export interface ServiceMapsData {
  count: number;
  unhealthy: number;
  service_maps: ServiceMapRow[];
}

export interface ReleasesData {
  by_status: Record<string, number>;
  total: number;
  failed: number;
  in_progress: number;
  releases: { id: number; name: string; status: string; revision: number; package: string; version: string; workspace: Ref; service_map: { id: number; namespace: string }; message: string; message_code: string; message_params: Record<string, unknown>; updated: string; link: string }[];
  rollouts: { id: number; release_name: string; status: string; version: string; created: string; finished: string | null; link: string }[];
}

export interface BuildsData {
  running: number;
  failed: number;
  succeeded: number;
  window_hours: number;
  runs: { id: number; definition: Ref; number: number; status: string; created: string; finished: string | null; link: string }[];
}
