/** Test data for the workspaces pages, shaped like docs/workspaces-api.md. */
import type { Allocation, Member, ServiceMap, Workspace, WorkspaceRole } from '../workspaces/types';

export function workspace(id: number, overrides: Partial<Workspace> = {}): Workspace {
  return {
    id,
    name: `team-${id}`,
    display_name: `Team ${id}`,
    description: '',
    created: '2026-11-01T00:00:00Z',
    cluster_count: 1,
    member_count: 2,
    service_map_count: 1,
    my_role: null,
    my_grants: [],
    quota_use: [
      { resource: 'requests.cpu', allocated: '8', used: '1500m' },
      { resource: 'requests.memory', allocated: '16Gi', used: '4Gi' },
    ],
    ...overrides,
  };
}

export function allocation(id: number, overrides: Partial<Allocation> = {}): Allocation {
  return {
    id,
    cluster: { id: 1, name: 'seoul-prod', display_name: '', status: 'connected' },
    quota: { 'requests.cpu': '8', 'requests.memory': '16Gi', pods: '100' },
    storage_classes: [],
    status: 'ready',
    message: '',
    message_code: '',
    message_params: {},
    shared: { 'requests.cpu': '6' },
    used: { 'requests.cpu': '1500m' },
    remaining: { 'requests.cpu': '2', 'requests.memory': '16Gi', pods: '100' },
    service_map_count: 2,
    warnings: [],
    ...NOT_DELETING,
    ...overrides,
  };
}

/** Not deleting (the fields exist in the schema once it is regenerated; a spread satisfies both). */
const NOT_DELETING = { deleting_since: null, deletion_stuck: false };

export function serviceMap(id: number, overrides: Partial<ServiceMap> = {}): ServiceMap {
  return {
    id,
    workspace: { id: 1, name: 'team-1', display_name: 'Team 1' },
    cluster: { id: 1, name: 'seoul-prod', display_name: '', status: 'connected' },
    namespace: `shop-${id}`,
    display_name: `Shop ${id}`,
    description: '',
    quota: { 'requests.cpu': '2', pods: '20' },
    limits: {},
    status: 'ready',
    message: '',
    message_code: '',
    message_params: {},
    in_sync: true,
    last_applied: '2026-11-21T10:00:00Z',
    created: '2026-11-21T10:00:00Z',
    usage: { 'requests.cpu': { hard: '2', used: '300m' }, pods: { hard: '20', used: '3' } },
    workloads: { total: 3, ready: 2 },
    pods: { total: 5, running: 4, failed: 1 },
    warnings: [],
    ...NOT_DELETING,
    ...overrides,
  };
}

export function member(id: number, username: string, role = 'developer'): Member {
  return { id, user: { id: id + 100, username, name: '' }, role, created: '2026-11-01T00:00:00Z' };
}

export const ROLES: WorkspaceRole[] = [
  { id: 1, key: 'manager', name: 'Manager', description: '', grants: ['members.manage', 'servicemaps.manage'], builtin: true },
  { id: 2, key: 'developer', name: 'Developer', description: '', grants: ['workloads.deploy'], builtin: true },
  { id: 3, key: 'viewer', name: 'Viewer', description: '', grants: [], builtin: true },
];
