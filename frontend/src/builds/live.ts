/**
 * Live updates of the builds pages (docs/builds.md, "WebSocket"):
 * - group `workspace.<id>`: `buildrun.updated` (RUN_ROW) becomes the `last_run` of its definition
 *   in the lists (when it is that definition's newest run), patches the run histories and an open
 *   run page (keeping its steps); a run we do not hold yet refetches the histories;
 * - group `buildrun.<id>`: `buildrun.updated` (RUN_ROW + steps) replaces the run page's data;
 *   `buildrun.log` is read by each open step log panel (StepLogPanel), not here.
 * A seq gap refetches what the group feeds.
 */
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { useSubscription, type SocketEvent } from '../lib/socket';
import { rowsOf } from './api';
import { definitionsKey, runKey, runsKey } from './queries';
import type { BuildDefinition, BuildRun, BuildRunDetail, ListOf, Page } from './types';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const isRunRow = (v: unknown): v is BuildRun =>
  isRecord(v) && typeof v.id === 'number' && typeof v.status === 'string' && isRecord(v.definition) && typeof v.definition.id === 'number';

/** A run row that arrived: patch the definition lists, the run histories and the run page. */
export function applyRunUpdate(queryClient: QueryClient, row: BuildRun): void {
  let missing = false;
  for (const [key, data] of queryClient.getQueriesData<ListOf<BuildDefinition>>({ queryKey: definitionsKey() })) {
    if (!data) continue;
    const rows = rowsOf(data);
    const index = rows.findIndex((d) => d.id === row.definition.id);
    if (index < 0) {
      const query = key[2];
      const workspace = isRecord(query) ? query.workspace : undefined;
      if (workspace === undefined || workspace === row.workspace.id) missing = true;
      continue;
    }
    const current = rows[index];
    if (!current || (current.last_run && current.last_run.id > row.id)) continue; // an older run's news
    const next = rows.slice();
    next[index] = { ...current, last_run: { ...(current.last_run?.id === row.id ? current.last_run : {}), ...row } };
    queryClient.setQueryData(key, Array.isArray(data) ? next : { ...data, results: next });
  }
  if (missing) void queryClient.invalidateQueries({ queryKey: definitionsKey() });

  let newRun = false;
  for (const [key, page] of queryClient.getQueriesData<Page<BuildRun>>({ queryKey: runsKey() })) {
    if (!page) continue;
    const index = page.results.findIndex((r) => r.id === row.id);
    if (index < 0) {
      newRun = true;
      continue;
    }
    const results = page.results.slice();
    results[index] = { ...results[index], ...row };
    queryClient.setQueryData(key, { ...page, results });
  }
  if (newRun) void queryClient.invalidateQueries({ queryKey: runsKey() });

  queryClient.setQueryData<BuildRunDetail>(runKey(row.id), (old) => (old ? { ...old, ...row, steps: old.steps } : old));
}

/** `buildrun.updated` on `buildrun.<id>`: the whole run with its steps. */
export function applyRunDetail(queryClient: QueryClient, data: BuildRunDetail): void {
  queryClient.setQueryData<BuildRunDetail>(runKey(data.id), (old) => ({ ...(old ?? {}), ...data, steps: Array.isArray(data.steps) ? data.steps : (old?.steps ?? []) }));
  applyRunUpdate(queryClient, data);
}

/** Keeps the definition lists and run histories of one workspace current. */
export function useBuildsLive(workspaceId: number | null | undefined): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type === 'buildrun.updated' && isRunRow(event.data)) applyRunUpdate(queryClient, event.data);
    },
    [queryClient],
  );
  const onResync = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: definitionsKey() });
    void queryClient.invalidateQueries({ queryKey: runsKey() });
  }, [queryClient]);
  const ok = typeof workspaceId === 'number' && Number.isInteger(workspaceId);
  useSubscription(ok ? `workspace.${workspaceId}` : null, onEvent, onResync);
}

/** A render-nothing component, so a list can listen to the group of each workspace it shows. */
export function BuildsLive({ id }: { id: number }) {
  useBuildsLive(id);
  return null;
}

/** Keeps an open run page current from `buildrun.<id>`. */
export function useRunLive(runId: number): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type === 'buildrun.updated' && isRunRow(event.data)) applyRunDetail(queryClient, event.data as BuildRunDetail);
    },
    [queryClient],
  );
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: runKey(runId) }), [queryClient, runId]);
  useSubscription(Number.isInteger(runId) && runId > 0 ? `buildrun.${runId}` : null, onEvent, onResync);
}

