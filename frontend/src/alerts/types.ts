/**
 * Types of the alerts pages and the log viewer, written after the issue-14 contract
 * (/work/coord/MONITORING.md, "Alerts", "Logs over the WebSocket") while the monitoring endpoints
 * are not in the generated schema yet. References to other objects may come as an id or as
 * `{id, name}`: `refId` / `refName` read either. When schema.ts has them, derive these from `paths`.
 */

export interface Ref {
  id: number;
  name?: string;
  display_name?: string;
  username?: string;
  /** A service map's reference names its namespace. */
  namespace?: string;
}

/** An id, a `{id, name}` object, or nothing. */
export type RefLike = number | Ref | null | undefined;

export function refId(ref: RefLike): number | null {
  if (ref === null || ref === undefined) return null;
  return typeof ref === 'number' ? ref : ref.id;
}

export function refName(ref: RefLike): string {
  if (ref === null || ref === undefined) return '';
  if (typeof ref === 'number') return String(ref);
  return ref.display_name || ref.name || ref.namespace || ref.username || String(ref.id);
}

/** A user as the API names them: a username string or an object with `username`. */
export type UserLike = string | { id?: number; username?: string; name?: string } | null | undefined;

export function userName(user: UserLike): string {
  if (!user) return '';
  if (typeof user === 'string') return user;
  return user.username || user.name || (user.id !== undefined ? String(user.id) : '');
}

export interface Page<T> {
  next?: string | null;
  previous?: string | null;
  count?: number;
  results: T[];
}

export type ListOf<T> = Page<T> | T[];

export type Severity = 'critical' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

export type AlertState = 'pending' | 'firing' | 'acknowledged' | 'resolved';
export const ALERT_STATES: readonly AlertState[] = ['pending', 'firing', 'acknowledged', 'resolved'];

/** Whether the user may do something, and why not (the 403's code and sentence). */
export interface Permission {
  allowed: boolean;
  code?: string;
  reason?: string;
  params?: Record<string, unknown>;
}

export type PermissionLike = Permission | boolean | undefined;

export interface AlertPermissions {
  /** May acknowledge, resolve and silence it (the detail answer). */
  act?: PermissionLike;
  acknowledge?: PermissionLike;
  resolve?: PermissionLike;
  silence?: PermissionLike;
  manage?: PermissionLike;
}

export interface RuleRef {
  id: number;
  name: string;
  builtin?: string;
}

/** An alert row (list rows, `alert.updated` on `alerts` and `workspace.<id>`). */
export interface Alert {
  id: number;
  rule: RuleRef | number | null;
  rule_name?: string;
  fingerprint: string;
  state: AlertState;
  severity: Severity;
  cluster: RefLike;
  workspace: RefLike;
  service_map?: RefLike;
  namespace: string;
  subject_kind: string;
  subject_name: string;
  labels?: Record<string, unknown>;
  value?: number | null;
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
  started_at: string;
  fired_at?: string | null;
  last_seen_at?: string | null;
  acknowledged_by?: UserLike;
  acknowledged_at?: string | null;
  acknowledge_note?: string;
  resolved_at?: string | null;
  resolved_by?: UserLike;
  updated?: string;
  permissions?: AlertPermissions;
}

export interface AlertTransition {
  id?: number;
  from_state: string;
  to_state: string;
  actor: UserLike;
  note: string;
  at: string;
}

export interface AlertDetail extends Alert {
  transitions: AlertTransition[];
}

export interface AlertQuery {
  state?: string;
  open?: boolean;
  severity?: string;
  cluster?: number;
  workspace?: number;
  service_map?: number;
  cursor?: string;
}

// ---------------------------------------------------------------------------- rules

export type Aggregation = 'avg' | 'max' | 'min' | 'last';
export const AGGREGATIONS: readonly Aggregation[] = ['avg', 'max', 'min', 'last'];
export type Operator = '>' | '>=' | '<' | '<=';
export const OPERATORS: readonly Operator[] = ['>', '>=', '<', '<='];

/** Metrics a custom rule may name: the sample columns and the point metrics (MONITORING.md). */
export const RULE_METRICS = [
  'cpu_usage',
  'mem_usage',
  'cpu_request',
  'mem_request',
  'cpu_limit',
  'mem_limit',
  'cpu_billed',
  'mem_billed',
  'cpu_allocatable',
  'mem_allocatable',
  'cpu_capacity',
  'mem_capacity',
  'pods',
  'restarts',
  'net_rx_bytes_per_second',
  'net_tx_bytes_per_second',
  'fs_used_bytes',
  'pvc_used_ratio',
] as const;

export type RuleScope = 'fleet' | 'workspace' | 'cluster' | 'service_map' | 'workload';

export interface AlertRule {
  id: number;
  name: string;
  description: string;
  builtin: string;
  enabled: boolean;
  severity: Severity;
  params: Record<string, unknown>;
  metric: string;
  aggregation: string;
  operator: string;
  threshold: number | null;
  window_seconds: number;
  for_seconds: number;
  /** A custom rule's level (pod, workload, namespace, node, cluster, container); '' for a built-in. */
  level?: string;
  param_specs?: ParamSpec[];
  open_alerts?: number;
  workspace: RefLike;
  cluster: RefLike;
  service_map: RefLike;
  workload_namespace: string;
  workload_kind: string;
  workload_name: string;
  created_by?: UserLike;
  created?: string;
  updated?: string;
  permissions?: { change?: PermissionLike; delete?: PermissionLike };
}

export interface ParamSpec {
  name: string;
  kind: string;
  default: number;
  minimum: number;
  maximum: number;
  description: string;
}

export const RULE_LEVELS = ['pod', 'container', 'workload', 'namespace', 'node', 'cluster'] as const;

/** What the rule editor sends (ids for the scope). */
export interface RuleBody {
  name?: string;
  description?: string;
  enabled?: boolean;
  severity?: Severity;
  params?: Record<string, unknown>;
  metric?: string;
  aggregation?: string;
  operator?: string;
  threshold?: number | null;
  window_seconds?: number;
  for_seconds?: number;
  level?: string;
  workspace?: number | null;
  cluster?: number | null;
  service_map?: number | null;
  workload_namespace?: string;
  workload_kind?: string;
  workload_name?: string;
}

// ---------------------------------------------------------------------------- silences

export interface Silence {
  id: number;
  rule: RefLike;
  cluster: RefLike;
  workspace: RefLike;
  service_map: RefLike;
  fingerprint: string;
  reason: string;
  starts_at: string;
  ends_at: string;
  created_by?: UserLike;
  created?: string;
  expired_early_at?: string | null;
  /** active | expired | pending (when the server says). */
  status?: string;
  active?: boolean;
}

export interface SilenceBody {
  reason: string;
  ends_at: string;
  starts_at?: string;
  rule?: number | null;
  cluster?: number | null;
  workspace?: number | null;
  service_map?: number | null;
  fingerprint?: string;
}

// ---------------------------------------------------------------------------- channels

export type ChannelKind = 'email' | 'slack' | 'teams' | 'webhook';
export const CHANNEL_KINDS: readonly ChannelKind[] = ['email', 'slack', 'teams', 'webhook'];

export interface Channel {
  id: number;
  name: string;
  kind: ChannelKind;
  workspace: RefLike;
  enabled: boolean;
  min_severity: Severity;
  notify_resolved: boolean;
  recipients: string[];
  /** The webhook's host only: the URL itself is write-only. */
  url_host: string;
  has_url?: boolean;
  has_secret?: boolean;
  created_by?: UserLike;
  created?: string;
  updated?: string;
  permissions?: { change?: PermissionLike; delete?: PermissionLike };
}

export interface ChannelBody {
  name?: string;
  kind?: ChannelKind;
  workspace?: number | null;
  enabled?: boolean;
  min_severity?: Severity;
  notify_resolved?: boolean;
  recipients?: string[];
  /** Write-only. Omitted: kept as it is. */
  url?: string;
  /** Write-only. Omitted: kept; '' clears it. */
  secret?: string;
}

export interface DeliveryAttempt {
  id?: number;
  at: string;
  ok: boolean;
  status_code: number | null;
  error: string;
  duration_ms: number;
}

export interface Notification {
  id: number;
  alert: RefLike;
  channel: RefLike | (Ref & { kind?: ChannelKind });
  channel_name?: string;
  event: string;
  idempotency_key?: string;
  state: 'pending' | 'sending' | 'delivered' | 'failed' | string;
  attempts: DeliveryAttempt[] | number;
  attempt_count?: number;
  attempt_log?: DeliveryAttempt[];
  next_attempt_at?: string | null;
  last_error?: string;
  delivered_at?: string | null;
  created: string;
}

/** The test notification (queued in the outbox: 202). */
export interface TestResult {
  id?: number;
  state?: string;
  ok?: boolean;
  status_code?: number | null;
  error?: string;
  detail?: string;
}

// ---------------------------------------------------------------------------- logs (/ws/logs/)

export interface LogLine {
  pod: string;
  container: string;
  ts: string;
  text: string;
}

export interface PodContainer {
  pod: string;
  container: string;
}

export type LogServerMessage =
  | { type: 'started'; pods: PodContainer[] }
  | { type: 'lines'; lines: LogLine[] }
  | { type: 'skipped'; count: number }
  | { type: 'pods'; added: (PodContainer | string)[]; removed: (PodContainer | string)[] }
  | { type: 'ended'; pod: string; reason: string; container?: string }
  | { type: 'error'; code: string; message: string; params?: Record<string, unknown> };

export interface FollowRequest {
  type: 'follow';
  cluster: number;
  namespace: string;
  pod?: string;
  workload?: { kind: string; name: string };
  container?: string;
  tailLines?: number;
  sinceSeconds?: number;
  previous?: boolean;
  timestamps?: boolean;
}
