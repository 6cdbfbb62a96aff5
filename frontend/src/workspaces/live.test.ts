import { describe, expect, it } from 'vitest';
import { createQueryClient } from '../lib/queryClient';
import { allocation, serviceMap, workspace } from '../test/workspaces';
import { applyWorkspaceEvent, patchPage } from './live';
import { allocationsKey, serviceMapsKey, workspaceKey } from './queries';
import type { Allocation, Page, ServiceMap, Workspace } from './types';

const event = (type: string, data: unknown) => ({ type, group: 'workspace.1', seq: 2, data });

describe('workspace live events', () => {
  it('replaces and drops rows by id', () => {
    const p = { next: null, previous: null, results: [{ id: 1, v: 'a' }, { id: 2, v: 'b' }] };
    expect(patchPage(p, { id: 2, v: 'c' }, 2).page?.results).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'c' }]);
    expect(patchPage(p, null, 1).page?.results).toEqual([{ id: 2, v: 'b' }]);
    expect(patchPage(p, null, 9).found).toBe(false);
  });

  it('keeps the viewer’s own role and grants when workspace.updated carries a row built for no one', () => {
    const qc = createQueryClient();
    qc.setQueryData(workspaceKey(1), workspace(1, { my_role: 'manager', my_grants: ['members.manage'] }));
    applyWorkspaceEvent(qc, 1, event('workspace.updated', workspace(1, { display_name: 'Renamed', my_role: null, my_grants: [] })));
    const row = qc.getQueryData<Workspace>(workspaceKey(1))!;
    expect(row.display_name).toBe('Renamed');
    expect(row.my_role).toBe('manager');
    expect(row.my_grants).toEqual(['members.manage']);
  });

  it('patches service map and allocation rows in place', () => {
    const qc = createQueryClient();
    qc.setQueryData<Page<ServiceMap>>(serviceMapsKey(1), { next: null, previous: null, results: [serviceMap(7)] });
    qc.setQueryData<Allocation[]>(allocationsKey(1), [allocation(3)]);
    applyWorkspaceEvent(qc, 1, event('servicemap.updated', serviceMap(7, { status: 'error' })));
    applyWorkspaceEvent(qc, 1, event('allocation.updated', allocation(3, { status: 'error', message: 'cluster unreachable' })));
    expect(qc.getQueryData<Page<ServiceMap>>(serviceMapsKey(1))!.results[0]!.status).toBe('error');
    expect(qc.getQueryData<Allocation[]>(allocationsKey(1))![0]!.message).toBe('cluster unreachable');
    applyWorkspaceEvent(qc, 1, event('servicemap.deleted', { id: 7 }));
    expect(qc.getQueryData<Page<ServiceMap>>(serviceMapsKey(1))!.results).toEqual([]);
  });
});
