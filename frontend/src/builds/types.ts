/**
 * Types of the builds pages, written after the issue-13 contract (docs/builds.md, "API") while the
 * builds endpoints are not in the generated schema yet. Each mirrors one answer of /api/builds/;
 * when schema.ts has them, replace these with types derived from `paths` as catalog/types.ts does.
 */

export interface Ref {
  id: number;
  name: string;
}

export interface Page<T> {
  next?: string | null;
  previous?: string | null;
  results: T[];
}

/** A list answer: paginated, or a plain array for the small lists. */
export type ListOf<T> = Page<T> | T[];

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelling' | 'cancelled';
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export type Trigger = 'manual' | 'webhook' | 'rebuild';
export type TagScheme = 'version-build' | 'git-sha';
export type Builder = 'buildkit' | 'buildah';
export type ImageFormat = 'split' | 'reference';
export type PresetKey = '' | 'java-maven' | 'java-gradle' | 'nodejs' | 'python' | 'go';

/** RUN_ROW: one build run (list rows, `buildrun.updated` on `workspace.<id>`). */
export interface BuildRun {
  id: number;
  definition: Ref;
  workspace: Ref;
  number: number;
  status: RunStatus;
  trigger: Trigger;
  git_ref: string;
  git_commit: string;
  image_repository: string;
  image_tag: string;
  image_digest: string;
  image_size: number | null;
  steps_done: number;
  steps_total: number;
  /** Position (1-based) of the step that failed, when the run failed. */
  failed_step: number | null;
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
  requested_username: string;
  created: string;
  started: string | null;
  finished: string | null;
  deployed_release: Ref | null;
  deployed_revision: number | null;
}

export interface BuildStep {
  name: string;
  position: number;
  status: StepStatus;
  started: string | null;
  finished: string | null;
  exit_code: number | null;
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
  log_size: number;
  log_truncated: boolean;
}

/** GET /runs/{id}/ and `buildrun.updated` on `buildrun.<id>`. */
export interface BuildRunDetail extends BuildRun {
  steps: BuildStep[];
}

/** GET /runs/{id}/steps/{name}/log/?offset= : the log from byte `offset`. */
export interface StepLog {
  run: number;
  step: string;
  offset: number;
  text: string;
  size: number;
  truncated: boolean;
  running: boolean;
}

/** `buildrun.log` on `buildrun.<id>`: `text` appended at byte `offset` of the step's log. */
export interface StepLogEvent {
  run: number;
  step: string;
  offset: number;
  text: string;
}

export interface Resources {
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string; memory?: string };
}

export interface BuildDefinition {
  id: number;
  workspace: Ref;
  name: string;
  description: string;
  git_url: string;
  git_ref: string;
  git_username: string;
  has_git_password: boolean;
  context_dir: string;
  dockerfile_path: string;
  preset: PresetKey;
  build_args: Record<string, string>;
  registry: { id: number; name: string; host: string };
  repository: string;
  /** `<host>/<repository>` */
  image: string;
  tag_scheme: TagScheme;
  version: string;
  next_build_number: number;
  cluster: Ref;
  service_map: { id: number; namespace: string };
  builder: Builder;
  resources: Resources;
  cache_size: string;
  timeout_seconds: number;
  keep_runs: number;
  scan: boolean;
  deploy_release: { id: number; name: string; service_map_id: number } | null;
  deploy_image_path: string;
  deploy_image_format: ImageFormat;
  webhook_enabled: boolean;
  webhook_url: string;
  trigger_refs: string[];
  last_run: BuildRun | null;
  created: string;
  updated: string;
  permissions: { change: boolean; run: boolean };
}

/** POST /definitions/ answers the row and, when the webhook is on, its secret (only then). */
export type CreatedDefinition = BuildDefinition & { webhook_secret?: string };

/** The body of POST /definitions/ and PATCH /definitions/{id}/. */
export interface DefinitionBody {
  workspace?: number;
  name?: string;
  description?: string;
  git_url?: string;
  git_ref?: string;
  git_username?: string;
  /** Write-only: sent only when typed (or '' to remove the stored one). */
  git_password?: string;
  context_dir?: string;
  dockerfile_path?: string;
  preset?: PresetKey;
  build_args?: Record<string, string>;
  registry?: number;
  repository?: string;
  tag_scheme?: TagScheme;
  version?: string;
  cluster?: number;
  service_map?: number;
  builder?: Builder;
  resources?: Resources;
  cache_size?: string;
  timeout_seconds?: number;
  keep_runs?: number;
  scan?: boolean;
  deploy_release?: number | null;
  deploy_image_path?: string;
  deploy_image_format?: ImageFormat;
  webhook_enabled?: boolean;
  trigger_refs?: string[];
}

export interface Preset {
  key: PresetKey;
  name: string;
  dockerfile: string;
  build_args: Record<string, string>;
}

/** GET /registries/ rows (the parts the definition editor uses). */
export interface Registry {
  id: number;
  name: string;
  kind: string;
  host: string;
  builtin: boolean;
  status: string;
  description: string;
  /** The caller's repository prefixes here; null = every repository. */
  prefixes: string[] | null;
}

export interface RunQuery {
  workspace?: number;
  definition?: number;
  status?: RunStatus;
}
