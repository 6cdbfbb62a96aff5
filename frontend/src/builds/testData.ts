/** Test data for the builds pages, shaped like the contract (docs/builds.md, "API"). Tests only. */
import type { BuildDefinition, BuildRun, BuildRunDetail, BuildStep, Preset, Registry } from './types';

export function runRow(id: number, overrides: Partial<BuildRun> = {}): BuildRun {
  return {
    id,
    definition: { id: 1, name: 'shop-api' },
    workspace: { id: 1, name: 'team-1' },
    number: id,
    status: 'succeeded',
    trigger: 'manual',
    git_ref: 'main',
    git_commit: '0123456789abcdef0123456789abcdef01234567',
    image_repository: '127.0.0.1:55000/team-1/shop-api',
    image_tag: `1.0.B${String(id).padStart(6, '0')}`,
    image_digest: 'sha256:aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899',
    image_size: 5 * 1024 * 1024 + 300 * 1024,
    steps_done: 3,
    steps_total: 3,
    failed_step: null,
    message: '',
    message_code: '',
    message_params: {},
    requested_username: 'dev',
    created: '2026-12-01T10:00:00Z',
    started: '2026-12-01T10:00:02Z',
    finished: '2026-12-01T10:01:10Z',
    deployed_release: null,
    deployed_revision: null,
    ...overrides,
  };
}

export function step(name: string, position: number, overrides: Partial<BuildStep> = {}): BuildStep {
  return {
    name,
    position,
    status: 'succeeded',
    started: '2026-12-01T10:00:02Z',
    finished: '2026-12-01T10:00:20Z',
    exit_code: 0,
    message: '',
    message_code: '',
    message_params: {},
    log_size: 0,
    log_truncated: false,
    ...overrides,
  };
}

export function runDetail(id: number, steps: BuildStep[], overrides: Partial<BuildRun> = {}): BuildRunDetail {
  return { ...runRow(id, overrides), steps };
}

export function definition(id: number, overrides: Partial<BuildDefinition> = {}): BuildDefinition {
  return {
    id,
    workspace: { id: 1, name: 'team-1' },
    name: 'shop-api',
    description: '',
    git_url: 'http://127.0.0.1:9418/shop.git',
    git_ref: 'main',
    git_username: '',
    has_git_password: false,
    context_dir: '.',
    dockerfile_path: 'Dockerfile',
    preset: '',
    build_args: {},
    registry: { id: 1, name: 'builtin', host: '127.0.0.1:55000' },
    repository: 'team-1/shop-api',
    image: '127.0.0.1:55000/team-1/shop-api',
    tag_scheme: 'version-build',
    version: '1.0',
    next_build_number: 6,
    cluster: { id: 1, name: 'seoul-prod' },
    service_map: { id: 7, namespace: 'shop-7' },
    builder: 'buildkit',
    resources: {},
    cache_size: '2Gi',
    timeout_seconds: 1800,
    keep_runs: 20,
    scan: true,
    deploy_release: null,
    deploy_image_path: 'image',
    deploy_image_format: 'split',
    webhook_enabled: false,
    webhook_url: 'http://localhost/api/builds/webhooks/1/',
    trigger_refs: [],
    last_run: runRow(5),
    created: '2026-11-30T10:00:00Z',
    updated: '2026-11-30T10:00:00Z',
    permissions: { change: true, run: true },
    ...overrides,
  };
}

export function registry(id: number, overrides: Partial<Registry> = {}): Registry {
  return { id, name: 'builtin', kind: 'builtin', host: '127.0.0.1:55000', builtin: true, status: 'ok', description: '', prefixes: ['team-1'], ...overrides };
}

export const presets: Preset[] = [
  { key: 'python', name: 'Python', dockerfile: 'FROM python:${PYTHON_VERSION}-slim\nCOPY . /app\n', build_args: { PYTHON_VERSION: '3.12' } },
  { key: 'go', name: 'Go', dockerfile: 'FROM golang:${GO_VERSION}\n', build_args: { GO_VERSION: '1.23' } },
];
