/**
 * Types of the registries pages, written after the issue-13 contract (/work/coord/BUILDS.md,
 * docs/registries.md and docs/image-policy.md) until the generated schema has the builds API;
 * then these should come from src/api/schema.ts like the other sections' types.
 */

export type RegistryKind = 'builtin' | 'dockerhub' | 'harbor' | 'ghcr' | 'quay' | 'ecr' | 'generic';
export type RegistryStatus = 'unknown' | 'ok' | 'error';
export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';

export interface Ref {
  id: number;
  name: string;
}

export interface RegistryAllocationRow {
  id: number;
  workspace: Ref;
  prefix: string;
}

/** A row of `GET /api/builds/registries/`. */
export interface Registry {
  id: number;
  name: string;
  kind: RegistryKind;
  host: string;
  plain_http: boolean;
  has_ca: boolean;
  username: string;
  has_password: boolean;
  builtin: boolean;
  allow_delete: boolean;
  description: string;
  status: RegistryStatus;
  message: string;
  message_code: string;
  message_params: unknown;
  checked: string | null;
  created: string;
  /** The caller's repository prefixes in this registry; null = every repository. */
  prefixes: string[] | null;
  /** Only for those who see every registry (admins, operators, auditors). */
  allocations?: RegistryAllocationRow[];
}

/** `POST /api/builds/registries/` (admin); PATCH takes any part of it (a password = rotation). */
export interface RegistryBody {
  name?: string;
  kind?: RegistryKind;
  host?: string;
  plain_http?: boolean;
  ca_pem?: string;
  username?: string;
  password?: string;
  allow_delete?: boolean;
  description?: string;
}

export interface AllocationBody {
  workspace: number;
  prefix: string;
}

export interface Repositories {
  results: { name: string }[];
  truncated: boolean;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export type SeverityCounts = Partial<Record<Severity, number>>;

export interface ScanSummary {
  counts: SeverityCounts;
  scanned: string;
}

export interface Tag {
  tag: string;
  digest: string;
  size: number | null;
  media_type: string;
  platforms: Platform[];
  created: string | null;
  scan: ScanSummary | null;
}

/** `GET /api/builds/registries/{id}/tags/?repository=`. */
export interface Tags {
  repository: string;
  /** `<host>/<repository>` as image references name it. */
  image: string;
  results: Tag[];
  truncated: boolean;
}

export interface Finding {
  id: string;
  package: string;
  version: string;
  fixed_version: string;
  severity: Severity;
  title: string;
}

/** `GET /api/builds/scans/?registry=&repository=&digest=` (404 `scan_not_found`). */
export interface Scan {
  registry: number;
  repository: string;
  digest: string;
  scanner?: string;
  counts: SeverityCounts;
  findings: Finding[];
  scanned: string;
  run: number | null;
}

export type ImageFormat = 'split' | 'reference';

/** `POST /api/builds/deploy-image/`. */
export interface DeployImageBody {
  registry: number;
  repository: string;
  digest: string;
  tag?: string;
  release: number;
  image_path?: string;
  image_format?: ImageFormat;
}

export interface DeployImageResult {
  release: Ref;
  revision: number;
}

export interface ScanException {
  id: number;
  vulnerability: string;
  reason: string;
  expires: string;
  /** Whether it had expired when the server answered. */
  expired?: boolean;
  created: string;
  created_by: string | null;
}

/** `GET|PUT /api/builds/scan-policies/{workspace_id}/`; `block_severity` "" = never block. */
export interface ScanPolicy {
  workspace: Ref;
  block_severity: '' | Severity;
  require_scan: boolean;
  exceptions: ScanException[];
  updated: string | null;
  permissions: { change: boolean };
}

export interface ScanPolicyBody {
  block_severity: '' | Severity;
  require_scan: boolean;
}

export interface ScanExceptionBody {
  vulnerability: string;
  reason: string;
  expires: string;
}

/** The parts of a build definition row (docs/builds.md) the deploy dialog reads: a definition that
 *  deploys to a release says where that release's chart takes the image. */
export interface DefinitionDeployTarget {
  id: number;
  name: string;
  deploy_release: { id: number; name: string; service_map_id: number } | null;
  deploy_image_path: string;
  deploy_image_format: ImageFormat;
}
