/** Test data for the clusters pages, shaped like docs/clusters-api.md. */
import type { Cluster, ClusterDetail, InventoryRow, NodeData, NodeListRow, PodData } from '../clusters/types';

/** Fields added for issue 21 (message codes, namespace-scoped access, relist counters), spread so
 * the fixtures fit the schema before and after its regeneration. */
const issue21Cluster = { status_code: '', namespaces: [] as string[] };
export const syncExtra = { code: '', relists: 0, last_relist_reason: '' as const, last_relist_at: null };

export function cluster(id: number, overrides: Partial<Cluster> = {}): Cluster {
  return {
    id,
    name: `c${id}`,
    display_name: `Cluster ${id}`,
    description: '',
    provider: 'eks',
    region: 'ap-northeast-2',
    stage: 'prod',
    labels: {},
    server: `https://c${id}.example:6443`,
    auth_method: 'token',
    enabled: true,
    status: 'connected',
    status_message: '',
    message_code: '',
    message_params: {},
    kubernetes_version: 'v1.32.4',
    missing_permissions: [],
    last_checked: new Date().toISOString(),
    last_sync: new Date().toISOString(),
    freshness: 'fresh',
    summary: {
      nodes_ready: 3,
      nodes_total: 3,
      services: 12,
      workloads: 20,
      cpu: { capacity: 24, allocatable: 23.4, requested: 6.5 },
      memory: { capacity: 103079215104, allocatable: 100000000000, requested: 12884901888 },
      disk: { capacity: 322122547200, allocatable: 300000000000 },
      pods: { running: 40, total: 44, capacity: 330 },
    },
    created: '2026-11-01T00:00:00Z',
    ...issue21Cluster,
    ...overrides,
  };
}

export function clusterDetail(id: number, overrides: Partial<ClusterDetail> = {}): ClusterDetail {
  return {
    ...cluster(id),
    syncs: [
      { kind: 'Node', state: 'synced', last_event: new Date().toISOString(), object_count: 3, message: '', ...syncExtra },
      { kind: 'Pod', state: 'synced', last_event: new Date().toISOString(), object_count: 44, message: '', ...syncExtra },
    ],
    ...{ permissions: null },
    prometheus_url: '',
    prometheus_ca_pem: '',
    ...overrides,
  };
}

export function podRow(namespace: string, name: string, overrides: Partial<InventoryRow<PodData>> = {}, data: Partial<PodData> = {}): InventoryRow<PodData> {
  return {
    cluster: 1,
    kind: 'Pod',
    namespace,
    name,
    uid: `${namespace}-${name}`,
    labels: { app: name.split('-')[0] ?? name },
    node_name: 'node-1',
    phase: 'Running',
    created: '2026-11-21T10:00:00Z',
    updated: '2026-11-21T10:00:00Z',
    data: {
      status_text: 'Running',
      ready: '1/1',
      restarts: 0,
      containers: [{ name: 'app', image: 'nginx:1.27', ready: true, restart_count: 0, state: 'running', reason: '' }],
      pod_ip: '10.1.0.5',
      host_ip: '10.0.0.1',
      owner: { kind: 'ReplicaSet', name: 'web-abc' },
      requests: { cpu: 0.1, memory: 134217728 },
      limits: { cpu: 0.5, memory: 268435456 },
      qos_class: 'Burstable',
      start_time: '2026-11-21T10:00:00Z',
      ...data,
    },
    ...overrides,
  };
}

export function nodeRow(name: string, data: Partial<NodeData> = {}, figures: Partial<Pick<NodeListRow, 'requests' | 'pod_count'>> = {}): NodeListRow {
  return {
    requests: { cpu: 2, memory: 4294967296 },
    pod_count: 12,
    ...figures,
    cluster: 1,
    kind: 'Node',
    namespace: '',
    name,
    uid: name,
    labels: {},
    node_name: '',
    phase: '',
    created: '2026-11-01T00:00:00Z',
    updated: '2026-11-21T10:00:00Z',
    data: {
      roles: ['worker'],
      ready: true,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: '' }],
      unschedulable: false,
      taints: [],
      capacity: { cpu: 8, memory: 34359738368, pods: 110 },
      allocatable: { cpu: 7.8, memory: 33000000000, pods: 110 },
      kubelet_version: 'v1.32.4',
      os_image: 'Ubuntu 24.04',
      internal_ip: '10.0.0.1',
      zone: 'a',
      instance_type: 'm5.2xlarge',
      ...data,
    },
  };
}

export const page = <T,>(results: T[], extra: Record<string, unknown> = {}) => ({ next: null, previous: null, results, ...extra });
