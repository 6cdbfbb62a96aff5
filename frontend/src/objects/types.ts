/**
 * Shapes of the object-action endpoints (/work/coord/OBJECTS.md, docs/clusters-api.md "Actions on
 * objects"). They are hand-written because the generated schema does not have these endpoints yet;
 * when src/api/schema.ts is regenerated, derive them from `paths` as src/api/types.ts does and
 * drop the copies here.
 */

/** The grants an object's `permissions` answers for (clusters/access.py OBJECT_GRANTS). */
export const OBJECT_GRANTS = [
  'objects.edit',
  'objects.delete',
  'workloads.scale',
  'workloads.restart',
  'workloads.rollback',
  'pods.exec',
  'pods.logs',
  'secrets.reveal',
] as const;
export type ObjectGrant = (typeof OBJECT_GRANTS)[number];

export interface Permission {
  allowed: boolean;
  /** Why not: grant_missing / operator_required / namespace_forbidden … ('' when allowed). */
  code: string;
  /** The server's English sentence for the refusal. */
  reason: string;
  params?: Record<string, unknown>;
}
export type Permissions = Partial<Record<ObjectGrant, Permission>>;

/** Which object: `group` is "core" for the core API group, as in the resource browser. */
export interface ObjectRef {
  group: string;
  version: string;
  plural: string;
  name: string;
  /** '' for a cluster-scoped object. */
  namespace: string;
  kind?: string;
}

export interface OwnerRelease {
  id: number;
  name: string;
  service_map_id: number | null;
}

export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  uid?: string;
  controller?: boolean;
}

export interface ManagerEntry {
  manager: string;
  operation: string;
  time: string | null;
}

/** GET objects/{g}/{v}/{plural}/{name}/?namespace= */
export interface ObjectDetail {
  api_version: string;
  kind: string;
  namespace: string;
  name: string;
  resource_version: string;
  /** The live object as YAML, without managedFields and status. */
  yaml: string;
  owner_release: OwnerRelease | null;
  owners: OwnerReference[];
  permissions: Permissions;
  managers: ManagerEntry[];
}

export interface Conflict {
  field: string;
  manager: string;
  message: string;
}

export interface FieldError {
  field?: string;
  line?: number | null;
  message: string;
}

/** POST …/preview/ */
export interface Preview {
  changed: boolean;
  diff: string;
  live_yaml: string;
  result_yaml: string;
  conflicts: Conflict[];
}

/** One document of POST objects/preview/. */
export interface DocumentPreview {
  index: number;
  /** The 1-based line the document starts on. */
  line?: number;
  api_version: string;
  kind: string;
  namespace: string;
  name: string;
  exists: boolean;
  changed: boolean;
  diff: string;
  conflicts: Conflict[];
  errors: FieldError[];
  /** The document as the cluster would store it, and as it is now (when the server sends them). */
  live_yaml?: string;
  result_yaml?: string;
}

export interface CreatePreview {
  documents: DocumentPreview[];
}

export type ActionKind = 'apply' | 'create' | 'scale' | 'restart' | 'pause' | 'resume' | 'rollback' | 'delete';
export type ActionStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'conflict';
export const FINAL_STATUSES: readonly ActionStatus[] = ['succeeded', 'failed', 'conflict'];

/** One document's outcome of a create action (result.documents). */
export interface DocumentResult {
  index: number;
  kind: string;
  namespace: string;
  name: string;
  /** created / configured / unchanged / failed … as the server says it. */
  status: string;
  message?: string;
  message_code?: string;
  message_params?: Record<string, unknown>;
  errors?: FieldError[];
}

export interface ActionResult {
  conflicts?: Conflict[];
  errors?: FieldError[];
  documents?: DocumentResult[];
  resource_version?: string;
}

/** The intent row of every change to an object (clusters.models.ObjectAction). */
export interface ObjectAction {
  id: number;
  cluster: number;
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespace: string;
  name: string;
  action: ActionKind;
  params: Record<string, unknown>;
  status: ActionStatus;
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
  result: ActionResult | null;
  diff: string;
  /** The username of who asked. */
  requested_by: string;
  created: string;
  started: string | null;
  finished: string | null;
  attempts?: number;
  /** On the 202 answer of a workload action: the release that owns the object, and `owned_by_release`. */
  owner_release?: OwnerRelease | null;
  warnings?: string[];
}

export interface Revision {
  revision: number;
  name: string;
  created: string | null;
  images: string[];
  current: boolean;
}

export interface Dependent {
  kind: string;
  namespace: string;
  name: string;
}

export interface Dependents {
  /** At most 500 listed; `total` counts all. */
  dependents: Dependent[];
  total?: number;
  protected_by_service_map: string | null;
  owner_release?: OwnerRelease | null;
}

export type Propagation = 'Foreground' | 'Background' | 'Orphan';
export const PROPAGATIONS: readonly Propagation[] = ['Foreground', 'Background', 'Orphan'];

/** A YAML error of a 400 yaml_invalid body (`errors.yaml`) or an api_invalid cause. */
export interface LineError {
  line: number | null;
  message: string;
  field?: string;
}
