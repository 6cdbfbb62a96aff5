/**
 * Live updates of the catalog pages from the `workspace.<id>` group (docs/catalog-api.md, "Live
 * events"): `release.updated` rows patch the release and the lists that hold it,
 * `revision.updated` patches a revision's status and per-object progress in place,
 * `rollout.updated` replaces the rollout with its ledger, `rollout.deleted` refetches it and the
 * rollout lists, `release.deleted` drops the row from the
 * lists and tells an open release page to leave. Rows we do not hold yet, and seq gaps,
 * refetch.
 */
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import type { StoredMessage } from '../lib/messages';
import { useSubscription, type SocketEvent } from '../lib/socket';
import { releaseDeletedKey, releaseKey, releasesKey, revisionKey, rolloutKey, rolloutsKey, catalogKey } from './queries';
import type { Page, Release, ReleaseDetail, RevisionDetail, RevisionEvent, Rollout } from './types';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const isRelease = (v: unknown): v is Release => isRecord(v) && typeof v.id === 'number' && typeof v.revision === 'number';
const isRevisionEvent = (v: unknown): v is RevisionEvent => isRecord(v) && typeof v.release === 'number' && typeof v.number === 'number';
const isRollout = (v: unknown): v is Rollout => isRecord(v) && typeof v.id === 'number' && Array.isArray(v.targets);

export function applyReleaseUpdate(queryClient: QueryClient, row: Release): void {
  const detail = queryClient.getQueryData<ReleaseDetail>(releaseKey(row.id));
  if (detail) {
    queryClient.setQueryData<ReleaseDetail>(releaseKey(row.id), { ...detail, ...row, revisions: detail.revisions });
    // A revision we have not seen yet (an upgrade started elsewhere), or a newly deployed one
    // (the previous one became superseded without an event of its own): fetch the history.
    if (row.revision > (detail.revisions[0]?.number ?? 0) || row.deployed_revision !== detail.deployed_revision) void queryClient.invalidateQueries({ queryKey: releaseKey(row.id), exact: true });
  }
  let missing = false;
  for (const [key, page] of queryClient.getQueriesData<Page<Release>>({ queryKey: releasesKey() })) {
    if (!page) continue;
    const index = page.results.findIndex((r) => r.id === row.id);
    if (index < 0) {
      missing = true;
      continue;
    }
    const results = page.results.slice();
    results[index] = { ...results[index], ...row };
    queryClient.setQueryData(key, { ...page, results });
  }
  if (missing) void queryClient.invalidateQueries({ queryKey: releasesKey() });
}

export function applyRevisionUpdate(queryClient: QueryClient, event: RevisionEvent): void {
  // The code goes with its message: a patch that kept the old code would translate a stale message.
  const coded = event as RevisionEvent & StoredMessage;
  const patch = {
    status: event.status,
    progress: event.progress ?? {},
    message: event.message ?? '',
    message_code: coded.message_code ?? '',
    message_params: coded.message_params ?? {},
  };
  const detail = queryClient.getQueryData<ReleaseDetail>(releaseKey(event.release));
  if (detail) {
    if (detail.revisions.some((r) => r.number === event.number)) {
      queryClient.setQueryData<ReleaseDetail>(releaseKey(event.release), {
        ...detail,
        // A deployed revision supersedes the one deployed before it (the server does the same).
        revisions: detail.revisions.map((r) =>
          r.number === event.number ? { ...r, ...patch } : event.status === 'deployed' && r.status === 'deployed' ? { ...r, status: 'superseded' } : r,
        ),
      });
    } else {
      void queryClient.invalidateQueries({ queryKey: releaseKey(event.release), exact: true });
    }
  }
  queryClient.setQueryData<RevisionDetail>(revisionKey(event.release, event.number), (old) => (old ? { ...old, ...patch } : old));
}

export function applyReleaseDeleted(queryClient: QueryClient, id: number): void {
  queryClient.setQueryData(releaseDeletedKey(id), true);
  for (const [key, page] of queryClient.getQueriesData<Page<Release>>({ queryKey: releasesKey() })) {
    if (page?.results.some((r) => r.id === id)) queryClient.setQueryData(key, { ...page, results: page.results.filter((r) => r.id !== id) });
  }
}

export function applyCatalogEvent(queryClient: QueryClient, event: SocketEvent): void {
  const data = event.data;
  switch (event.type) {
    case 'release.updated':
      if (isRelease(data)) applyReleaseUpdate(queryClient, data);
      else void queryClient.invalidateQueries({ queryKey: releasesKey() });
      break;
    case 'revision.updated':
      if (isRevisionEvent(data)) applyRevisionUpdate(queryClient, data);
      break;
    case 'release.deleted':
      if (isRecord(data) && typeof data.id === 'number') applyReleaseDeleted(queryClient, data.id);
      else void queryClient.invalidateQueries({ queryKey: releasesKey() });
      break;
    case 'rollout.updated':
      if (isRollout(data)) queryClient.setQueryData<Rollout>(rolloutKey(data.id), (old) => ({ ...(old ?? {}), ...data }));
      break;
    case 'rollout.deleted': // a finished rollout's record was deleted: lists refetch, an open page shows it is gone
      void queryClient.invalidateQueries({ queryKey: rolloutsKey });
      if (isRecord(data) && typeof data.id === 'number') void queryClient.invalidateQueries({ queryKey: rolloutKey(data.id) });
      break;
  }
}

/** Keeps the releases and rollouts cached for one workspace current while a page shows them. */
export function useCatalogLive(workspaceId: number | null | undefined): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback((event: SocketEvent) => applyCatalogEvent(queryClient, event), [queryClient]);
  const onResync = useCallback(() => {
    for (const key of [releasesKey(), [...catalogKey, 'release'], [...catalogKey, 'rollout']]) void queryClient.invalidateQueries({ queryKey: key });
  }, [queryClient]);
  const ok = typeof workspaceId === 'number' && Number.isInteger(workspaceId);
  useSubscription(ok ? `workspace.${workspaceId}` : null, onEvent, onResync);
}

/** A render-nothing component, so a list can listen to the group of each workspace it shows. */
export function CatalogLive({ id }: { id: number }) {
  useCatalogLive(id);
  return null;
}
