/** Test data for the provisioning and move pages, shaped like CONTRACT "New portal API". */
import type { ManagementCluster, MachineRow, Operation, Pool, ProvisionedDetail, ProvisionedRow, TemplateDetail, TemplateRow } from './types';

export function management(id: number, overrides: Partial<ManagementCluster> = {}): ManagementCluster {
  return {
    id,
    cluster: 10 + id,
    cluster_name: `mgmt-${id}`,
    namespace: 'portal-provisioning',
    status: 'ready',
    capi_versions: { 'cluster.x-k8s.io': 'v1beta1' },
    control_plane_providers: ['control-plane-kubeadm'],
    infrastructure_providers: ['infrastructure-sandbox'],
    message: '',
    message_code: '',
    message_params: {},
    checked: new Date().toISOString(),
    created: new Date().toISOString(),
    ...overrides,
  };
}

export function templateRow(id: number, overrides: Partial<TemplateRow> = {}): TemplateRow {
  return {
    id,
    name: 'sandbox-basic',
    version: 1,
    provider: 'sandbox',
    display_name: 'Sandbox basic',
    description: 'One control plane, one pool',
    builtin: true,
    archived: false,
    created: new Date().toISOString(),
    clusters_count: 0,
    ...overrides,
  };
}

export function templateDetail(id: number, overrides: Partial<TemplateDetail> = {}): TemplateDetail {
  return {
    ...templateRow(id),
    files: { 'values.yaml': 'kubernetesVersion: v1.30.4\nworkers: 2\n', 'templates/cluster.yaml': 'kind: Cluster\n' },
    schema: {},
    defaults: { kubernetesVersion: 'v1.30.4', workers: 2 },
    form: [
      { path: 'kubernetesVersion', type: 'string', default: 'v1.30.4', required: true, description: 'Kubernetes version' },
      { path: 'workers', type: 'integer', default: 2, required: false, description: 'Machines in the first pool' },
    ] as unknown as TemplateDetail['form'],
    ...overrides,
  };
}

export function machine(name: string, overrides: Partial<MachineRow> = {}): MachineRow {
  return {
    name,
    pool: 'workers',
    control_plane: false,
    phase: 'Running',
    node: name,
    version: 'v1.30.4',
    ready: true,
    node_healthy: true,
    draining: false,
    deleting: false,
    reason: '',
    message: '',
    created: new Date().toISOString(),
    ...overrides,
  };
}

export function provisionedRow(id: number, overrides: Partial<ProvisionedRow> = {}): ProvisionedRow {
  const machines = [machine('demo-cp-abcde', { pool: '', control_plane: true }), machine('demo-workers-1'), machine('demo-workers-2', { phase: 'Provisioning', node: '', node_healthy: false, ready: false })];
  return {
    id,
    name: 'demo',
    display_name: '',
    management: 1,
    management_cluster: 'mgmt-1',
    namespace: 'portal-provisioning',
    template: 3,
    template_name: 'sandbox-basic',
    template_version: 1,
    provider: 'sandbox',
    parameters: {},
    stage: 'dev',
    labels: {},
    kubernetes_version: 'v1.30.4',
    phase: 'provisioning',
    progress: {
      exists: true,
      cluster: { phase: 'Provisioned', infrastructure_ready: true, control_plane_initialized: true, control_plane_ready: true, ready: false, deleting: false },
      control_plane: { name: 'demo-cp', replicas: 1, ready: 1, updated: 1, version: 'v1.30.4', initialized: true },
      pools: [{ name: 'workers', replicas: 2, ready: 1, available: 1, updated: 2, unavailable: 1, phase: 'ScalingUp', version: 'v1.30.4', infrastructure_template: 'demo-small', deleting: false }],
      machines,
      machines_total: 3,
      machines_running: 2,
      nodes_ready: 2,
      kubeconfig: true,
      failure: null,
    },
    conditions: [],
    message: '',
    message_code: '',
    message_params: {},
    cluster: 42,
    followed: new Date().toISOString(),
    created: new Date().toISOString(),
    updated: new Date().toISOString(),
    deleted: null,
    ...overrides,
  };
}

export function operation(id: number, overrides: Partial<Operation> = {}): Operation {
  return {
    id,
    provisioned: 5,
    kind: 'create',
    spec: {},
    status: 'running',
    progress: {},
    message: '',
    message_code: '',
    message_params: {},
    created: new Date().toISOString(),
    started: new Date().toISOString(),
    finished: null,
    created_by: 'admin',
    ...overrides,
  };
}

export function provisionedDetail(id: number, overrides: Partial<ProvisionedDetail> = {}): ProvisionedDetail {
  return {
    ...provisionedRow(id),
    operations: [operation(1, { provisioned: id })],
    machine_sizes: ['small', 'medium', 'large', 'xlarge'],
    upgrade_versions: ['v1.31.0'],
    ...overrides,
  };
}

export function pool(name: string, overrides: Partial<Pool> = {}): Pool {
  return {
    name,
    replicas: 2,
    ready: 1,
    available: 1,
    updated: 2,
    unavailable: 1,
    phase: 'ScalingUp',
    version: 'v1.30.4',
    infrastructure_template: `${name}-small`,
    deleting: false,
    machine_size: 'small',
    machines: [],
    ...overrides,
  };
}
