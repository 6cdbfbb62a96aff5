import { describe, expect, it } from 'vitest';
import { createQueryClient } from '../lib/queryClient';
import { release, releaseDetail, revision, rollout, target } from '../test/catalog';
import { applyCatalogEvent } from './live';
import { releaseKey, releasesKey, revisionKey, rolloutKey } from './queries';
import type { Page, Release, ReleaseDetail, RevisionDetail, Rollout } from './types';

const event = (type: string, data: unknown) => ({ type, group: 'workspace.1', seq: 2, data });

describe('catalog live events', () => {
  it('patches a revision’s progress in place; a deployed revision supersedes the previous one', () => {
    const qc = createQueryClient();
    qc.setQueryData<ReleaseDetail>(releaseKey(4), releaseDetail(4, [revision(2, { status: 'applying' }), revision(1)]));
    qc.setQueryData<RevisionDetail>(revisionKey(4, 2), { ...revision(2, { status: 'applying' }), manifest: '', resources: [], changes: [] });
    applyCatalogEvent(
      qc,
      event('revision.updated', {
        release: 4,
        number: 2,
        status: 'progressing',
        progress: { 'Deployment/web': { state: 'progressing', ready: 1, desired: 2, message: '' } },
        message: '',
      }),
    );
    let detail = qc.getQueryData<ReleaseDetail>(releaseKey(4))!;
    expect(detail.revisions[0]!.status).toBe('progressing');
    expect(detail.revisions[0]!.progress['Deployment/web']).toMatchObject({ ready: 1, desired: 2 });
    expect(qc.getQueryData<RevisionDetail>(revisionKey(4, 2))!.status).toBe('progressing');

    applyCatalogEvent(qc, event('revision.updated', { release: 4, number: 2, status: 'deployed', progress: {}, message: '' }));
    detail = qc.getQueryData<ReleaseDetail>(releaseKey(4))!;
    expect(detail.revisions.map((r) => r.status)).toEqual(['deployed', 'superseded']);
  });

  it('patches release rows in lists and the detail, keeping its revisions', () => {
    const qc = createQueryClient();
    qc.setQueryData<Page<Release>>(releasesKey({ service_map: 7 }), { next: null, previous: null, results: [release(4)] });
    qc.setQueryData<ReleaseDetail>(releaseKey(4), releaseDetail(4, [revision(2), revision(1)]));
    applyCatalogEvent(qc, event('release.updated', release(4, { status: 'failed', message: 'Revision 2 failed' })));
    expect(qc.getQueryData<Page<Release>>(releasesKey({ service_map: 7 }))!.results[0]!.status).toBe('failed');
    const detail = qc.getQueryData<ReleaseDetail>(releaseKey(4))!;
    expect(detail.message).toBe('Revision 2 failed');
    expect(detail.revisions).toHaveLength(2);
  });

  it('replaces a rollout with its ledger', () => {
    const qc = createQueryClient();
    qc.setQueryData<Rollout>(rolloutKey(9), rollout(9, [target(1, 'east')]));
    applyCatalogEvent(qc, event('rollout.updated', rollout(9, [target(1, 'east', { state: 'healthy' })], { status: 'succeeded' })));
    const row = qc.getQueryData<Rollout>(rolloutKey(9))!;
    expect(row.status).toBe('succeeded');
    expect(row.targets[0]!.state).toBe('healthy');
  });
});
