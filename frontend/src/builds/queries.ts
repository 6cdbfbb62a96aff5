/**
 * Query keys and hooks of the builds pages. The query cache is the only store:
 *   ['builds', 'definitions', query]   definition rows with their last run (the /builds list)
 *   ['builds', 'definition', id]       one definition (the editor)
 *   ['builds', 'runs', query]          run history (newest first)
 *   ['builds', 'run', id]              one run with its steps (the run page)
 *   ['builds', 'presets'] / ['builds', 'registries']
 * live.ts patches definitions, runs and the run page from `workspace.<id>` and `buildrun.<id>`;
 * step logs are not cached here (StepLogPanel keeps a bounded buffer of its own).
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiError } from '../api/errors';
import { buildsApi } from './api';
import type { BuildDefinition, BuildRun, CreatedDefinition, DefinitionBody, RunQuery } from './types';

export const buildsKey = ['builds'] as const;
export const definitionsKey = (query?: object) =>
  query ? ([...buildsKey, 'definitions', query] as const) : ([...buildsKey, 'definitions'] as const);
export const definitionKey = (id: number) => [...buildsKey, 'definition', id] as const;
export const runsKey = (query?: object) => (query ? ([...buildsKey, 'runs', query] as const) : ([...buildsKey, 'runs'] as const));
export const runKey = (id: number) => [...buildsKey, 'run', id] as const;

const valid = (id: number | null | undefined): id is number => typeof id === 'number' && Number.isInteger(id) && id > 0;

export function usePresets(enabled = true) {
  return useQuery({ queryKey: [...buildsKey, 'presets'], queryFn: ({ signal }) => buildsApi.presets(signal), staleTime: 10 * 60_000, enabled });
}

export function useBuildRegistries() {
  return useQuery({ queryKey: [...buildsKey, 'registries'], queryFn: ({ signal }) => buildsApi.registries(signal), staleTime: 60_000 });
}

export function useDefinitions(query: { workspace?: number; q?: string }) {
  return useQuery({
    queryKey: definitionsKey(query),
    queryFn: ({ signal }) => buildsApi.definitions(query, signal),
    placeholderData: keepPreviousData,
  });
}

export function useDefinition(id: number | null) {
  return useQuery({ queryKey: definitionKey(id ?? 0), queryFn: ({ signal }) => buildsApi.definition(id ?? 0, signal), enabled: valid(id) });
}

export function useRuns(query: RunQuery, enabled = true) {
  return useQuery({ queryKey: runsKey(query), queryFn: ({ signal }) => buildsApi.runs(query, signal), placeholderData: keepPreviousData, enabled });
}

export function useRun(id: number) {
  return useQuery({ queryKey: runKey(id), queryFn: ({ signal }) => buildsApi.runDetail(id, signal), enabled: valid(id) });
}

// --- writes ----------------------------------------------------------------------------

export function useSaveDefinition(id: number | null) {
  const queryClient = useQueryClient();
  return useMutation<CreatedDefinition | BuildDefinition, ApiError, DefinitionBody>({
    mutationFn: (body) => (id ? buildsApi.patchDefinition(id, body) : buildsApi.createDefinition(body)),
    onSuccess: (row) => {
      queryClient.setQueryData(definitionKey(row.id), row);
      void queryClient.invalidateQueries({ queryKey: definitionsKey() });
    },
  });
}

export function useDeleteDefinition(id: number) {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, void>({
    mutationFn: () => buildsApi.deleteDefinition(id),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: definitionKey(id) });
      void queryClient.invalidateQueries({ queryKey: definitionsKey() });
    },
  });
}

export function useRotateWebhookSecret(id: number) {
  return useMutation<{ webhook_secret: string }, ApiError, void>({ mutationFn: () => buildsApi.rotateWebhookSecret(id) });
}

/** Starts a run of a definition; the new run patches the lists that show the definition. */
export function useRunDefinition() {
  const queryClient = useQueryClient();
  return useMutation<BuildRun, ApiError, { id: number; ref?: string }>({
    mutationFn: ({ id, ref }) => buildsApi.run(id, ref),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: definitionsKey() });
      void queryClient.invalidateQueries({ queryKey: runsKey() });
    },
  });
}

export function useCancelRun(id: number) {
  const queryClient = useQueryClient();
  return useMutation<BuildRun, ApiError, void>({
    mutationFn: () => buildsApi.cancel(id),
    onSuccess: (row) => {
      queryClient.setQueryData(runKey(id), (old: object | undefined) => (old ? { ...old, ...row } : old));
    },
  });
}

export function useRebuild(id: number) {
  const queryClient = useQueryClient();
  return useMutation<BuildRun, ApiError, void>({
    mutationFn: () => buildsApi.rebuild(id),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: definitionsKey() });
      void queryClient.invalidateQueries({ queryKey: runsKey() });
    },
  });
}
