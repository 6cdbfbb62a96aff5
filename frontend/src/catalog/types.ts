/**
 * Types of the catalog and deploy pages (docs/catalog-api.md). Rows come from the generated
 * OpenAPI schema; the parts drf-spectacular leaves free-form (a package's `source` and `versions`,
 * a revision's `progress`, a plan's `preflight` and `dry_run`) are named here after the contract.
 */
import type { components, paths } from '../api/schema';

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;
type BodyOf<Op> = Op extends { requestBody?: { content: { 'application/json': infer T } } } ? T : never;

export interface Page<T> {
  next?: string | null;
  previous?: string | null;
  results: T[];
}

export type Source = JsonOf<paths['/api/catalog/sources/']['get']['responses'][200]>['results'][number];
export type SourceKind = Source['kind'];
export type SourceStatus = Source['status'];
export type SourceQuery = Pick<NonNullable<paths['/api/catalog/sources/']['get']['parameters']['query']>, 'workspace' | 'kind'>;
export type SourceCreateBody = BodyOf<paths['/api/catalog/sources/']['post']>;
export type WebhookToken = JsonOf<paths['/api/catalog/sources/{id}/webhook-token/']['post']['responses'][201]>;

type PackageRow = JsonOf<paths['/api/catalog/packages/']['get']['responses'][200]>['results'][number];
export interface SourceRef {
  id: number;
  name: string;
  kind: SourceKind;
}
export interface Ref {
  id: number;
  name: string;
}
export type Package = Omit<PackageRow, 'source' | 'workspace' | 'keywords'> & {
  source: SourceRef;
  workspace: Ref | null;
  keywords: string[];
};
export interface VersionSummary {
  id: number;
  version: string;
  app_version: string;
  created: string;
}
export type PackageDetail = Package & { versions: VersionSummary[] };
export type PackageQuery = NonNullable<paths['/api/catalog/packages/']['get']['parameters']['query']>;

type VersionRow = JsonOf<paths['/api/catalog/versions/{id}/']['get']['responses'][200]>;
/** stored: readme, values and form are complete; fetching: a task is fetching the archive; failed: see archive_message. */
export type ArchiveStatus = 'stored' | 'fetching' | 'failed';
export type Version = Omit<VersionRow, 'package' | 'archive_status'> & {
  package: Ref;
  archive_status?: ArchiveStatus;
  archive_message?: string;
  archive_message_code?: string;
};
export type FormField = Version['form'][number];
export type RenderResult = JsonOf<paths['/api/catalog/versions/{id}/render/']['post']['responses'][200]>;

export type Release = JsonOf<paths['/api/catalog/releases/']['get']['responses'][200]>['results'][number];
export type ReleaseStatus = Release['status'];
export type ReleaseQuery = NonNullable<paths['/api/catalog/releases/']['get']['parameters']['query']>;
type ReleaseDetailRow = JsonOf<paths['/api/catalog/releases/{id}/']['get']['responses'][200]>;
type RevisionRow = ReleaseDetailRow['revisions'][number];
export type RevisionStatus = RevisionRow['status'];

/** One object's rollout progress: `{"Deployment/web": {"state", "ready", "desired", "message"}}`. */
export interface ObjectProgress {
  state?: string;
  ready?: number;
  desired?: number;
  message?: string;
}
export type Progress = Record<string, ObjectProgress>;
export type Revision = Omit<RevisionRow, 'progress'> & { progress: Progress };
export type ReleaseDetail = Omit<ReleaseDetailRow, 'revisions'> & { revisions: Revision[] };
type RevisionDetailRow = JsonOf<paths['/api/catalog/releases/{id}/revisions/{number}/']['get']['responses'][200]>;
export type RevisionDetail = Omit<RevisionDetailRow, 'progress'> & { progress: Progress };
/** The result of a drift check's intent (GET drift answers 202 with the intent). */
export type Drift = components['schemas']['Drift'];

export type Values = Record<string, unknown>;
export type ReleaseCreateBody = BodyOf<paths['/api/catalog/releases/']['post']>;
export type PlanBody = BodyOf<paths['/api/catalog/releases/plan/']['post']>;

/** Quota preflight of one resource (workspaces.services.preflight). */
export interface PreflightResource {
  resource: string;
  requested: string;
  used: string;
  hard: string;
  remaining: string;
  fits: boolean;
}
export interface Preflight {
  fits?: boolean;
  resources?: PreflightResource[];
  problems?: string[];
}
/** The result of a plan's intent (POST plan answers 202 with the intent). */
type PlanRow = components['schemas']['Plan'];
export type Plan = Omit<PlanRow, 'preflight' | 'dry_run'> & {
  preflight: Preflight;
  dry_run: { ok?: boolean; message?: string };
};

export type Rollout = JsonOf<paths['/api/catalog/rollouts/{id}/']['get']['responses'][200]>;
export type RolloutTarget = Rollout['targets'][number];
export type TargetState = RolloutTarget['state'];
export type RolloutCreateBody = BodyOf<paths['/api/catalog/rollouts/']['post']>;

/** `revision.updated` event data. */
export interface RevisionEvent {
  release: number;
  number: number;
  status: RevisionStatus;
  progress: Progress;
  message: string;
}
