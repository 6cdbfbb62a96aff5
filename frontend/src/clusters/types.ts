/**
 * Types of the clusters pages. Row and request shapes come from the generated OpenAPI schema
 * (src/api/types.ts); what OpenAPI cannot say — the per-kind `data` projection of an inventory
 * row (docs/clusters-api.md, written by clusters/watcher/projection.py) — is typed here.
 */
import type {
  Cluster,
  ClusterStatus,
  KubeObject,
  KubeObjectPage,
  NodeObject,
  PodObjectDetail,
  Provider,
  SearchResult,
  Stage,
} from '../api/types';

export type {
  Cluster,
  ClusterDetail,
  ClusterPatch,
  ClusterStatus,
  ClusterSummary,
  ConnectionBody,
  Freshness,
  KindSync,
  KubeconfigContexts,
  NodeOperation,
  Provider,
  RegisterBody,
  Stage,
} from '../api/types';

export const PROVIDERS: readonly Provider[] = ['onprem', 'eks', 'gke', 'aks', 'ncp', 'other'];
export const STAGES: readonly Stage[] = ['dev', 'stage', 'prod'];
export const CLUSTER_STATUSES: readonly ClusterStatus[] = ['pending', 'connected', 'unreachable', 'unauthorized', 'error', 'disabled'];
export type SyncStateName = 'syncing' | 'synced' | 'stale' | 'unreachable' | 'unauthorized' | 'forbidden';

export interface Page<T> {
  next?: string | null;
  previous?: string | null;
  results: T[];
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

export type ClusterMetadata = Required<Pick<Cluster, 'display_name' | 'description' | 'provider' | 'region' | 'stage'>> & {
  labels: Record<string, string>;
};

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
}

export interface ContainerStatus {
  name: string;
  image: string;
  ready: boolean;
  restart_count: number;
  state: string;
  reason: string;
  /** The last termination's reason and time (absent from rows projected before they were added). */
  last_reason?: string;
  last_finished?: string | null;
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

/** An inventory row with its kind's `data`. */
export type InventoryRow<D = unknown> = Omit<KubeObject, 'data'> & { data: D };

export type NodeRow = InventoryRow<NodeData>;
export type PodRow = InventoryRow<PodData>;
export type EventRow = InventoryRow<EventData>;

export type InventoryPage<D = unknown> = Omit<KubeObjectPage, 'results'> & { results: InventoryRow<D>[] };

/** Node rows carry `requests` and `pod_count` of their pods beside `data`. */
export type NodeListRow = Omit<NodeObject, 'data'> & { data: NodeData };
export type PodDetail = Omit<PodObjectDetail, 'data'> & { data: PodData };

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export type NodeOperationKind = 'cordon' | 'uncordon' | 'drain';

/** Options of a drain, as `kubectl drain` has them (docs/clusters-api.md); both off by default. */
export interface DrainOptions {
  force: boolean;
  delete_emptydir_data: boolean;
}
export type DrainNeed = keyof DrainOptions;

/** GET /api/clusters/<id>/nodes/<name>/drain-preview/ (docs/clusters-api.md). */
export interface DrainPreview {
  node: string;
  options: DrainOptions;
  pods: { pod: string; controller: string; action: 'evict' | 'skip' | 'terminating' | 'blocked'; needs: DrainNeed[]; reasons: string[] }[];
  blocked: number;
  lost: string[];
}

export type SearchHit = SearchResult;
