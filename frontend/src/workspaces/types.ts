/**
 * Types of the workspaces pages, as docs/workspaces-api.md describes them. While the backend's
 * OpenAPI document does not have these endpoints yet they are written by hand here; when it
 * does, they are derived from the generated paths in src/api/types.ts and re-exported here, so
 * the components keep importing from this file.
 */

export interface Page<T> {
  next?: string | null;
  previous?: string | null;
  results: T[];
}

/** ResourceQuota `hard` keys → Kubernetes quantities ("500m", "4Gi", "20"). */
export type Quota = Record<string, string>;

export const GRANTS = [
  'members.manage',
  'servicemaps.manage',
  'workloads.deploy',
  'workloads.scale',
  'workloads.restart',
  'workloads.rollback',
  'workloads.edit',
  'workloads.delete',
  'workloads.exec',
  'config.edit',
  'secrets.reveal',
  'builds.run',
] as const;
export type Grant = (typeof GRANTS)[number];

export interface WorkspaceRole {
  id: number;
  key: string;
  name: string;
  description: string;
  grants: string[];
  builtin: boolean;
}
export interface GrantInfo {
  key: string;
  description: string;
}
export interface RoleBody {
  key?: string;
  name?: string;
  description?: string;
  grants?: string[];
}

export interface QuotaUse {
  resource: string;
  allocated: string;
  used: string;
}

export interface Workspace {
  id: number;
  name: string;
  display_name: string;
  description: string;
  created: string;
  cluster_count: number;
  member_count: number;
  service_map_count: number;
  my_role: string | null;
  my_grants: string[];
  quota_use: QuotaUse[];
}
export interface WorkspaceBody {
  name?: string;
  display_name?: string;
  description?: string;
}

export interface UserRef {
  id: number;
  username: string;
  name: string;
}
export interface Member {
  id: number;
  user: UserRef;
  role: string;
  created: string;
}

export interface ClusterRef {
  id: number;
  name: string;
  display_name: string;
  status: string;
}

export type AllocationStatus = 'pending' | 'ready' | 'error';
export interface Allocation {
  id: number;
  cluster: ClusterRef;
  quota: Quota;
  storage_classes: string[];
  status: AllocationStatus | string;
  message: string;
  shared: Quota;
  used: Quota;
  remaining: Quota;
  service_map_count: number;
  warnings: string[];
}
export interface AllocationBody {
  cluster?: number;
  quota?: Quota;
  storage_classes?: string[];
  force?: boolean;
}

export interface RegistryAllocation {
  id: number;
  registry: string;
  description: string;
  created?: string;
}

export interface Limits {
  default_request?: { cpu?: string; memory?: string };
  default?: { cpu?: string; memory?: string };
}
export interface QuotaUsage {
  hard: string;
  used: string;
}
export type ServiceMapStatus = 'pending' | 'ready' | 'error' | 'deleting';
export interface ServiceMap {
  id: number;
  workspace: { id: number; name: string };
  cluster: ClusterRef;
  namespace: string;
  display_name: string;
  description: string;
  quota: Quota;
  limits: Limits;
  status: ServiceMapStatus | string;
  message: string;
  in_sync: boolean;
  last_applied: string | null;
  created: string;
  usage: Record<string, QuotaUsage>;
  workloads: { total: number; ready: number };
  pods: { total: number; running: number; failed: number };
}
export interface ServiceMapBody {
  cluster?: number;
  namespace?: string;
  display_name?: string;
  description?: string;
  quota?: Quota;
  limits?: Limits;
  force?: boolean;
}

export interface QuotaOverviewRow {
  workspace: { id: number; name: string };
  cluster: ClusterRef;
  quota: Quota;
  shared: Quota;
  used: Quota;
}
