/**
 * Shapes of the clusters API, written by hand from docs/clusters-api.md (the contract) because
 * the endpoints are not in openapi.json yet. Keep this file in step with the contract; when the
 * generated schema gains the endpoints, derive the row types from `paths` in src/api/types.ts
 * and keep only the per-kind `data` shapes here (JSON fields are untyped in OpenAPI).
 */

export const PROVIDERS = ['onprem', 'eks', 'gke', 'aks', 'ncp', 'other'] as const;
export type Provider = (typeof PROVIDERS)[number];
export const STAGES = ['dev', 'stage', 'prod'] as const;
export type Stage = (typeof STAGES)[number];
export const CLUSTER_STATUSES = ['pending', 'connected', 'unreachable', 'unauthorized', 'error', 'disabled'] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];
export type Freshness = 'fresh' | 'syncing' | 'stale' | 'unreachable';
export type SyncStateName = 'syncing' | 'synced' | 'stale' | 'unreachable' | 'unauthorized';

export interface Page<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface ResourceFigures {
  capacity: number;
  allocatable: number;
  requested?: number;
}

export interface ClusterSummary {
  nodes_ready: number;
  nodes_total: number;
  services: number;
  workloads: number;
  cpu: ResourceFigures;
  memory: ResourceFigures;
  disk: ResourceFigures;
  pods: { running: number; total: number; capacity: number };
}

export interface Cluster {
  id: number;
  name: string;
  display_name: string;
  description: string;
  provider: Provider;
  region: string;
  stage: Stage;
  labels: Record<string, string>;
  server: string;
  auth_method: string;
  enabled: boolean;
  status: ClusterStatus;
  status_message: string;
  kubernetes_version: string;
  missing_permissions: string[];
  last_checked: string | null;
  last_sync: string | null;
  freshness: Freshness;
  /** Empty (`{}`) until the watcher has computed it. */
  summary: Partial<ClusterSummary>;
  created: string;
}

export interface KindSync {
  kind: string;
  state: SyncStateName;
  last_event: string | null;
  object_count: number;
  message: string;
}

export interface ClusterDetail extends Cluster {
  syncs: KindSync[];
}

export const CLUSTER_ORDERINGS = [
  'name',
  'status',
  'provider',
  'region',
  'stage',
  'kubernetes_version',
  'nodes_ready',
  'cpu_capacity',
  'memory_capacity',
  'pods_running',
  'last_sync',
] as const;
export type ClusterOrdering = (typeof CLUSTER_ORDERINGS)[number];

/** The connection part of registration and of POST /credentials/. */
export interface ConnectionBody {
  kubeconfig?: string;
  context?: string;
  server?: string;
  ca_pem?: string;
  token?: string;
  client_certificate?: string;
  client_key?: string;
  insecure_skip_tls_verify?: boolean;
  allow_insecure?: boolean;
}

export interface ClusterMetadata {
  display_name: string;
  description: string;
  provider: Provider;
  region: string;
  stage: Stage;
  labels: Record<string, string>;
}

export interface RegisterBody extends ClusterMetadata, ConnectionBody {
  name: string;
}

export type ClusterPatch = Partial<ClusterMetadata> & { enabled?: boolean };

export interface KubeconfigContext {
  name: string;
  cluster: string;
  server: string;
  user: string;
}

export interface KubeconfigContexts {
  current: string | null;
  contexts: KubeconfigContext[];
}

// --- inventory ---------------------------------------------------------------

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export interface OwnerRef {
  kind: string;
  name: string;
}

export interface NodeData {
  roles: string[];
  ready: boolean;
  conditions: Condition[];
  unschedulable: boolean;
  taints: { key: string; value?: string | null; effect: string }[];
  capacity: { cpu: number; memory: number; pods: number; ephemeral_storage?: number };
  allocatable: { cpu: number; memory: number; pods: number; ephemeral_storage?: number };
  kubelet_version: string;
  os_image: string;
  internal_ip: string;
  zone: string;
  instance_type: string;
  /** Added by the API from the pods on the node. */
  requests?: { cpu: number; memory: number };
  pod_count?: number;
}

export interface ContainerStatus {
  name: string;
  image: string;
  ready: boolean;
  restart_count: number;
  state: string;
  reason: string;
}

export interface PodData {
  status_text: string;
  ready: string;
  restarts: number;
  containers: ContainerStatus[];
  pod_ip: string;
  host_ip: string;
  owner: OwnerRef | null;
  requests: { cpu: number; memory: number };
  limits: { cpu: number; memory: number };
  qos_class: string;
  start_time: string | null;
}

export interface WorkloadData {
  replicas?: number;
  ready_replicas?: number;
  updated_replicas?: number;
  available_replicas?: number;
  images?: string[];
  selector?: Record<string, string>;
  strategy?: string;
  conditions?: Condition[];
  owner?: OwnerRef | null;
  // Job
  completions?: number | null;
  parallelism?: number | null;
  succeeded?: number | null;
  failed?: number | null;
  active?: number | null;
  start_time?: string | null;
  completion_time?: string | null;
  // CronJob
  schedule?: string;
  suspend?: boolean;
  last_schedule_time?: string | null;
}

export interface ServiceData {
  type: string;
  cluster_ip: string;
  external_ips: string[];
  ports: { name?: string; port: number; target_port?: string | number; protocol: string; node_port?: number | null }[];
  selector: Record<string, string> | null;
}

export interface IngressData {
  class_name: string | null;
  rules: { host: string | null; paths: { path: string; service: string; port: string | number | null }[] }[];
  tls_hosts: string[];
  addresses: string[];
}

export interface VolumeData {
  capacity: number | null;
  access_modes: string[];
  reclaim_policy: string;
  storage_class: string;
  claim: string | null;
}

export interface ClaimData {
  requested: number | null;
  capacity: number | null;
  access_modes: string[];
  storage_class: string;
  volume_name: string;
}

export interface StorageClassData {
  provisioner: string;
  reclaim_policy: string;
  volume_binding_mode: string;
  is_default: boolean;
}

export interface EventData {
  type: string;
  reason: string;
  message: string;
  involved: { kind: string; name: string; namespace: string };
  count: number;
  first_seen: string | null;
  last_seen: string | null;
  source: string;
}

export interface KindData {
  Node: NodeData;
  Namespace: Record<string, never>;
  Pod: PodData;
  Deployment: WorkloadData;
  StatefulSet: WorkloadData;
  DaemonSet: WorkloadData;
  ReplicaSet: WorkloadData;
  Job: WorkloadData;
  CronJob: WorkloadData;
  Service: ServiceData;
  Ingress: IngressData;
  PersistentVolume: VolumeData;
  PersistentVolumeClaim: ClaimData;
  StorageClass: StorageClassData;
  Event: EventData;
}
export type Kind = keyof KindData;

export interface InventoryRow<D = unknown> {
  cluster: number;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  node_name: string;
  phase: string;
  created: string | null;
  updated: string | null;
  data: D;
}

export type NodeRow = InventoryRow<NodeData>;
export type PodRow = InventoryRow<PodData>;
export type EventRow = InventoryRow<EventData>;

export interface InventoryPage<D = unknown> extends Page<InventoryRow<D>> {
  freshness?: { state: SyncStateName | Freshness; last_event: string | null };
}

export interface NodeDetail extends NodeRow {
  pods?: PodRow[];
}

export interface PodDetail extends PodRow {
  /** The full object fetched live from the cluster. */
  object?: Record<string, unknown> | null;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export type NodeOperationKind = 'cordon' | 'uncordon' | 'drain';
export interface NodeOperation {
  id: number;
  cluster: number;
  node: string;
  kind: NodeOperationKind;
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  progress: { evicted?: string[]; failed?: { pod: string; reason: string }[]; remaining?: number };
  message: string;
  created: string;
  finished: string | null;
}

export interface SearchHit extends InventoryRow {
  /** Some servers add the cluster's name to a hit; otherwise the console looks it up. */
  cluster_name?: string;
}
