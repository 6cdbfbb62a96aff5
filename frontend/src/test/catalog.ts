/** Test data for the catalog pages, shaped like docs/catalog-api.md (and the generated schema). */
import type { Package, PackageDetail, Plan, Release, ReleaseDetail, Revision, Rollout, RolloutTarget, Source, Version } from '../catalog/types';

export function pkg(id: number, overrides: Partial<Package> = {}): Package {
  return {
    id,
    name: `pkg-${id}`,
    description: `Package ${id}`,
    icon: '',
    keywords: [],
    home: '',
    latest_version: '1.2.0',
    source: { id: 3, name: 'team-charts', kind: 'upload' },
    workspace: { id: 1, name: 'team-1' },
    updated: '2026-11-21T10:00:00Z',
    ...overrides,
  };
}

export function pkgDetail(id: number, overrides: Partial<PackageDetail> = {}): PackageDetail {
  return {
    ...pkg(id),
    versions: [
      { id: 11, version: '1.2.0', app_version: '2.0', created: '2026-11-21T10:00:00Z' },
      { id: 10, version: '1.0.0', app_version: '1.0', created: '2026-11-20T10:00:00Z' },
    ],
    ...overrides,
  };
}

export function version(id: number, overrides: Partial<Version> = {}): Version {
  return {
    id,
    package: { id: 5, name: 'shop' },
    version: '1.2.0',
    app_version: '2.0',
    digest: 'sha256:abc',
    readme: '# Shop\n<script>alert(1)</script>',
    values_yaml: 'replicas: 1\nimage:\n  tag: "1.27"\n',
    values_schema: {},
    lookup_templates: [],
    archive_status: 'stored',
    archive_message: '',
    archive_message_code: '',
    form: [
      { path: 'replicas', type: 'integer', default: 1, description: 'How many pods', enum: null, required: false },
      { path: 'image.tag', type: 'string', default: '1.27', description: '', enum: null, required: true },
      { path: 'service.enabled', type: 'boolean', default: true, description: '', enum: null, required: false },
    ],
    ...overrides,
  };
}

export function source(id: number, overrides: Partial<Source> = {}): Source {
  return {
    id,
    name: `source-${id}`,
    kind: 'helm',
    workspace: null,
    url: 'https://charts.example.com',
    username: '',
    has_password: false,
    refresh_minutes: 60,
    status: 'ready',
    message: '',
    last_refreshed: '2026-11-21T10:00:00Z',
    package_count: 4,
    ...overrides,
  };
}

const smRef = (id: number, cluster = 'seoul-prod') => ({ id, namespace: `shop-${id}`, cluster: { id, name: cluster, status: 'connected' } });

export function release(id: number, overrides: Partial<Release> = {}): Release {
  return {
    id,
    name: 'shop',
    workspace: { id: 1, name: 'team-1' },
    service_map: smRef(7),
    package: { id: 5, name: 'shop' },
    version: { id: 11, version: '1.2.0' },
    values: { replicas: 2 },
    strategy: {},
    strategy_state: {},
    status: 'deployed',
    message: '',
    message_code: '',
    message_params: {},
    revision: 2,
    deployed_revision: 2,
    created: '2026-11-21T10:00:00Z',
    updated: '2026-11-21T10:00:00Z',
    created_by: 'dev',
    ...overrides,
  };
}

export function revision(number: number, overrides: Partial<Revision> = {}): Revision {
  return {
    number,
    action: number === 1 ? 'install' : 'upgrade',
    rollback_of: null,
    version: '1.2.0',
    values: {},
    digest: 'sha256:x',
    status: 'deployed',
    progress: {},
    message: '',
    message_code: '',
    message_params: {},
    created: '2026-11-21T10:00:00Z',
    started: null,
    finished: null,
    created_by: 'dev',
    ...overrides,
  };
}

export function releaseDetail(id: number, revisions: Revision[], overrides: Partial<ReleaseDetail> = {}): ReleaseDetail {
  return { ...release(id), revisions, ...overrides };
}

export function plan(overrides: Partial<Plan> = {}): Plan {
  return {
    valid: true,
    errors: {},
    objects: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'shop-web', namespace: 'shop-7' }],
    preflight: {
      fits: true,
      resources: [{ resource: 'requests.cpu', requested: '100m', used: '300m', hard: '2', remaining: '1700m', fits: true }],
      problems: [],
    },
    dry_run: { ok: true, message: 'The cluster accepts every object (server-side dry-run).' },
    diff: '--- live\n+++ planned\n@@ -1,2 +1,2 @@\n kind: Deployment\n-  replicas: 1\n+  replicas: 2\n',
    changed: ['Deployment/shop-web'],
    warnings: [],
    ...overrides,
  };
}

export function target(id: number, cluster: string, overrides: Partial<RolloutTarget> = {}): RolloutTarget {
  return {
    id,
    service_map: smRef(id, cluster),
    wave: 1,
    overrides: {},
    release: null,
    revision: null,
    state: 'pending',
    reason: '',
    attempts: 0,
    updated: '2026-11-21T10:00:00Z',
    ...overrides,
  };
}

export function rollout(id: number, targets: RolloutTarget[], overrides: Partial<Rollout> = {}): Rollout {
  return {
    id,
    workspace: 1,
    release_name: 'shop',
    version: { id: 11, version: '1.2.0', label: 'shop 1.2.0' },
    values: {},
    policy: {},
    status: 'running',
    message: '',
    message_code: '',
    message_params: {},
    created: '2026-11-21T10:00:00Z',
    finished: null,
    targets,
    ...overrides,
  };
}
