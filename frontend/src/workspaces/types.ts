/**
 * Types of the workspaces pages (docs/workspaces-api.md). Rows and request bodies come from the
 * generated OpenAPI schema (src/api/types.ts); the request bodies' quota and limits fields are
 * free-form there, so the shapes the console sends are named here.
 */
export type {
  Allocation,
  ApplyStatus,
  ClusterRef,
  GrantInfo,
  Member,
  MemberCandidate as UserRef,
  QuotaOverviewRow,
  QuotaUse,
  RegistryAllocation,
  ServiceMap,
  ServiceMapListQuery,
  Workspace,
  WorkspaceListQuery,
  WorkspaceRole,
} from '../api/types';
import type {
  AllocationCreateBody,
  AllocationPatchBody,
  RoleCreateBody,
  RolePatchBody,
  ServiceMapCreateBody,
  ServiceMapPatchBody,
  WorkspaceCreateBody,
  WorkspacePatchBody,
} from '../api/types';

/** The deletion fields of a service map row (docs/workspaces-api.md): when deletion was asked and
 * whether the namespace has been Terminating past the deadline (then `message` says what holds it). */
export interface ServiceMapDeletion {
  deleting_since?: string | null;
  deletion_stuck?: boolean;
}

export interface Page<T> {
  next?: string | null;
  previous?: string | null;
  results: T[];
}

/** ResourceQuota `hard` keys → Kubernetes quantities ("500m", "4Gi", "20"). */
export type Quota = Record<string, string>;

export interface Limits {
  default_request?: { cpu?: string; memory?: string };
  default?: { cpu?: string; memory?: string };
}

export type WorkspaceBody = WorkspaceCreateBody | WorkspacePatchBody;
// openapi-typescript makes fields with a default (`force`) required; the console may leave them out.
export type AllocationBody = Omit<AllocationPatchBody, 'quota' | 'storage_classes' | 'force'> & {
  force?: boolean;
  cluster?: AllocationCreateBody['cluster'];
  quota?: Quota;
  storage_classes?: string[];
};
export type ServiceMapBody = Omit<ServiceMapPatchBody, 'quota' | 'limits' | 'force'> & {
  force?: boolean;
  cluster?: ServiceMapCreateBody['cluster'];
  namespace?: ServiceMapCreateBody['namespace'];
  quota?: Quota;
  limits?: Limits;
};
export type RoleBody = Omit<RolePatchBody, 'grants'> & Partial<Pick<RoleCreateBody, 'key' | 'name'>> & { grants?: string[] };
