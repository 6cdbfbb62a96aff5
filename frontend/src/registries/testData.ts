/** Test data for the registries pages, shaped like the contract (./types). */
import type { Registry, ScanPolicy, Tag } from './types';

export const DIGEST = 'sha256:3f8a1c0e9b7d6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877';

export function registry(id: number, overrides: Partial<Registry> = {}): Registry {
  return {
    id,
    name: `registry-${id}`,
    kind: 'generic',
    host: `registry-${id}.example.com`,
    plain_http: false,
    has_ca: false,
    username: 'robot',
    has_password: true,
    builtin: false,
    allow_delete: true,
    description: '',
    status: 'ok',
    message: '',
    message_code: '',
    message_params: {},
    checked: '2026-12-01T10:00:00Z',
    created: '2026-11-01T00:00:00Z',
    prefixes: null,
    ...overrides,
  };
}

export function tag(name: string, overrides: Partial<Tag> = {}): Tag {
  return {
    tag: name,
    digest: DIGEST,
    size: 2_516_582,
    media_type: 'application/vnd.oci.image.manifest.v1+json',
    platforms: [{ os: 'linux', architecture: 'amd64' }],
    created: '2026-12-01T09:30:00Z',
    scan: null,
    ...overrides,
  };
}

export function policy(overrides: Partial<ScanPolicy> = {}): ScanPolicy {
  return {
    workspace: { id: 1, name: 'team-1' },
    block_severity: 'CRITICAL',
    require_scan: false,
    exceptions: [
      {
        id: 7,
        vulnerability: 'CVE-2024-0002',
        reason: 'Not reachable from our code',
        expires: '2099-01-31T23:59:59Z',
        created: '2026-11-30T00:00:00Z',
        created_by: 'mia',
      },
    ],
    updated: '2026-11-30T00:00:00Z',
    permissions: { change: false },
    ...overrides,
  };
}
