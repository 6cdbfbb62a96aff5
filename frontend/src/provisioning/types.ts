/**
 * Hand-written types of /api/provisioning/ (CONTRACT "New portal API"; provisioning/rows.py,
 * capi.summarize) until the endpoints are in the generated schema (api/schema.ts).
 */
import type { FormField as CatalogFormField } from '../catalog/types';

export type Provider = 'sandbox' | 'docker' | 'vsphere' | 'openstack' | 'aws';
export const PROVIDERS: readonly Provider[] = ['sandbox', 'docker', 'vsphere', 'openstack', 'aws'];

export type CheckStatus = 'pending' | 'ready' | 'error';

export interface Coded {
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
}

export interface ManagementCluster extends Coded {
  id: number;
  cluster: number;
  cluster_name: string;
  namespace: string;
  status: CheckStatus;
  capi_versions: Record<string, unknown>;
  control_plane_providers: string[];
  infrastructure_providers: string[];
  checked: string | null;
  created: string;
}

export interface TemplateRow {
  id: number;
  name: string;
  version: number;
  provider: Provider;
  display_name: string;
  description: string;
  builtin: boolean;
  archived: boolean;
  created: string;
  clusters_count: number;
}

export type FormField = CatalogFormField;

export interface TemplateDetail extends TemplateRow {
  files: Record<string, string>;
  schema: Record<string, unknown>;
  defaults: Record<string, unknown>;
  form: FormField[];
}

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface Plan {
  objects: RenderedObject[];
  manifest: string;
  dry_run: { ok: boolean; errors: { object: string; message: string }[] };
}

export type Phase = 'pending' | 'applying' | 'provisioning' | 'provisioned' | 'updating' | 'deleting' | 'deleted' | 'failed';

export interface MachineRow {
  name: string;
  pool: string;
  control_plane: boolean;
  phase: string;
  node: string;
  version: string;
  ready: boolean;
  node_healthy: boolean;
  draining: boolean;
  deleting: boolean;
  reason: string;
  message: string;
  created: string;
}

export interface PoolSummary {
  name: string;
  replicas: number;
  ready: number;
  available: number;
  updated: number;
  unavailable: number;
  phase: string;
  version: string;
  infrastructure_template: string;
  deleting: boolean;
}

export interface Progress {
  exists?: boolean;
  cluster?: {
    phase: string;
    infrastructure_ready: boolean;
    control_plane_initialized: boolean;
    control_plane_ready: boolean;
    ready: boolean;
    deleting: boolean;
  };
  control_plane?: { name: string; replicas: number; ready: number; updated: number; version: string; initialized: boolean } | null;
  pools?: PoolSummary[];
  machines?: MachineRow[];
  machines_total?: number;
  machines_running?: number;
  nodes_ready?: number;
  kubeconfig?: boolean;
  failure?: { object: string; reason: string; message: string } | null;
}

export interface ProvisionedRow extends Coded {
  id: number;
  name: string;
  display_name: string;
  management: number;
  management_cluster: string;
  namespace: string;
  template: number;
  template_name: string;
  template_version: number;
  provider: Provider;
  parameters: Record<string, unknown>;
  stage: string;
  labels: Record<string, string>;
  kubernetes_version: string;
  phase: Phase;
  progress: Progress;
  conditions: { type: string; status: string; reason?: string; message?: string; severity?: string }[];
  cluster: number | null;
  followed: string | null;
  created: string;
  updated: string;
  deleted: string | null;
}

export type OperationKind = 'create' | 'scale_pool' | 'add_pool' | 'delete_pool' | 'resize_pool' | 'upgrade' | 'delete';
export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed';

export interface Operation extends Coded {
  id: number;
  provisioned: number;
  kind: OperationKind;
  spec: Record<string, unknown>;
  status: OperationStatus;
  progress: Progress;
  created: string;
  started: string | null;
  finished: string | null;
  created_by: string;
}

export interface ProvisionedDetail extends ProvisionedRow {
  operations: Operation[];
  machine_sizes: string[];
  upgrade_versions: string[];
}

export interface Pool extends PoolSummary {
  machine_size: string;
  machines: MachineRow[];
}

export interface Accepted {
  provisioned: ProvisionedRow;
  operation: Operation;
}

export interface ProvisionBody {
  name: string;
  management: number;
  template: number;
  parameters: Record<string, unknown>;
  stage?: string;
  labels?: Record<string, string>;
  display_name?: string;
}

export type ListOf<T> = T[] | { results: T[]; next?: string | null };
