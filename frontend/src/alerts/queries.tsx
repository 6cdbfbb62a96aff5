/**
 * Query keys and hooks of the alerts pages. The query cache is the only store:
 *   ['alerts', 'list', query]            alert pages (newest first, keyset cursor)
 *   ['alerts', 'alert', id]              one alert with its transitions
 *   ['alerts', 'notifications', id]      one alert's notifications with their delivery log
 *   ['alerts', 'rules'] / ['alerts', 'silences'] / ['alerts', 'channels']
 * Live: `alert.updated` (an alert row) on `alerts` (those who see the infrastructure) and on
 * `workspace.<id>` (members) patches the rows and the open alert, then refetches what it feeds
 * (a filtered list may gain or lose the row); a seq gap refetches.
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient, type InfiniteData, type QueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import type { ApiError } from '../api/errors';
import { useMe } from '../auth/queries';
import { useSubscription, type SocketEvent } from '../lib/socket';
import { useWorkspaces } from '../workspaces/queries';
import { alertsApi, cursorOf } from './api';
import type { Alert, AlertDetail, AlertQuery, Channel, ChannelBody, Page, RuleBody, AlertRule, Silence, SilenceBody, TestResult } from './types';

export const alertsKey = ['alerts'] as const;
export const listKey = (query?: AlertQuery) => (query ? ([...alertsKey, 'list', query] as const) : ([...alertsKey, 'list'] as const));
export const alertKey = (id: number) => [...alertsKey, 'alert', id] as const;
export const notificationsKey = (id: number) => [...alertsKey, 'notifications', id] as const;
export const rulesKey = [...alertsKey, 'rules'] as const;
export const silencesKey = [...alertsKey, 'silences'] as const;
export const channelsKey = [...alertsKey, 'channels'] as const;

const valid = (id: number | null | undefined): id is number => typeof id === 'number' && Number.isInteger(id) && id > 0;

export function useAlerts(query: AlertQuery) {
  return useInfiniteQuery({
    queryKey: listKey(query),
    queryFn: ({ signal, pageParam }) => alertsApi.alerts({ ...query, ...(pageParam ? { cursor: pageParam } : {}) }, signal),
    initialPageParam: '',
    getNextPageParam: (last: Page<Alert>) => cursorOf(last.next),
    placeholderData: keepPreviousData,
  });
}

export function useAlert(id: number) {
  return useQuery({ queryKey: alertKey(id), queryFn: ({ signal }) => alertsApi.alert(id, signal), enabled: valid(id) });
}

export function useNotifications(id: number) {
  return useQuery({
    queryKey: notificationsKey(id),
    queryFn: ({ signal }) => alertsApi.notifications(id, signal),
    enabled: valid(id),
    retry: false,
    refetchInterval: (query) => ((query.state.data ?? []).some((n) => n.state === 'pending' || n.state === 'sending') ? 5_000 : false),
  });
}

export function useRules() {
  return useQuery({ queryKey: rulesKey, queryFn: ({ signal }) => alertsApi.rules(signal) });
}

export function useSilences() {
  return useQuery({ queryKey: silencesKey, queryFn: ({ signal }) => alertsApi.silences(signal) });
}

export function useChannels() {
  return useQuery({ queryKey: channelsKey, queryFn: ({ signal }) => alertsApi.channels(signal) });
}

const UNSETTLED = new Set(['pending', 'sending']);

export function useChannelDeliveries(id: number, enabled: boolean) {
  return useQuery({
    queryKey: [...channelsKey, id, 'notifications'],
    queryFn: ({ signal }) => alertsApi.channelNotifications(id, signal),
    enabled: enabled && valid(id),
    retry: false,
    // a delivery in flight (a test just sent, a retry due) settles within seconds: look again
    refetchInterval: (query) => ((query.state.data ?? []).some((n) => UNSETTLED.has(n.state)) ? 3_000 : false),
  });
}

// --- live ------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const isAlertRow = (v: unknown): v is Alert => isRecord(v) && typeof v.id === 'number' && typeof v.state === 'string';

/** An alert row that arrived: patch the lists and the alert page, then refetch what it feeds. */
export function applyAlertUpdate(queryClient: QueryClient, row: Alert): void {
  for (const [key, data] of queryClient.getQueriesData<InfiniteData<Page<Alert>>>({ queryKey: listKey() })) {
    if (!data) continue;
    let changed = false;
    const pages = data.pages.map((page) => {
      const index = page.results.findIndex((a) => a.id === row.id);
      if (index < 0) return page;
      changed = true;
      const results = page.results.slice();
      results[index] = { ...results[index], ...row };
      return { ...page, results };
    });
    if (changed) queryClient.setQueryData(key, { ...data, pages });
  }
  void queryClient.invalidateQueries({ queryKey: listKey() });
  queryClient.setQueryData<AlertDetail>(alertKey(row.id), (old) => (old ? { ...old, ...row, transitions: old.transitions } : old));
  void queryClient.invalidateQueries({ queryKey: alertKey(row.id) });
  void queryClient.invalidateQueries({ queryKey: notificationsKey(row.id) });
}

const INFRA_ROLES = new Set(['admin', 'operator', 'auditor']);

/** Whether the user sees every cluster (the `alerts` group is theirs). */
export function useSeesInfrastructure(): boolean {
  const me = useMe();
  return me.data?.is_admin === true || INFRA_ROLES.has(String(me.data?.role ?? ''));
}

/** Whether the user manages infrastructure alerts, rules and silences (admins and operators). */
export function useManagesInfrastructure(): boolean {
  const me = useMe();
  return me.data?.is_admin === true || me.data?.role === 'admin' || me.data?.role === 'operator';
}

function useAlertGroup(group: string | null): void {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: SocketEvent) => {
      if (event.type === 'alert.updated' && isAlertRow(event.data)) applyAlertUpdate(queryClient, event.data);
    },
    [queryClient],
  );
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: alertsKey }), [queryClient]);
  useSubscription(group, onEvent, onResync);
}

function WorkspaceAlertsLive({ id }: { id: number }) {
  useAlertGroup(`workspace.${id}`);
  return null;
}

/** Keeps the alert pages live: `alerts` for infrastructure users, each workspace's group for members. */
export function AlertsLive() {
  const infra = useSeesInfrastructure();
  const me = useMe();
  const workspaces = useWorkspaces({});
  useAlertGroup(infra ? 'alerts' : null);
  if (infra || !me.data) return null;
  return (
    <>
      {(workspaces.data?.results ?? []).map((w) => (
        <WorkspaceAlertsLive key={w.id} id={w.id} />
      ))}
    </>
  );
}

/** The workspace ids where the user holds `alerts.manage`. */
export function useManagedWorkspaces(): Set<number> {
  const workspaces = useWorkspaces({});
  return new Set((workspaces.data?.results ?? []).filter((w) => (w.my_grants ?? []).includes('alerts.manage')).map((w) => w.id));
}

// --- writes ----------------------------------------------------------------------------------

function useAlertAction(id: number, action: 'acknowledge' | 'resolve') {
  const queryClient = useQueryClient();
  return useMutation<AlertDetail, ApiError, string>({
    mutationFn: (note) => (action === 'acknowledge' ? alertsApi.acknowledge(id, note) : alertsApi.resolve(id, note)),
    onSuccess: (row) => {
      if (isAlertRow(row)) applyAlertUpdate(queryClient, row);
      else void queryClient.invalidateQueries({ queryKey: alertsKey });
    },
  });
}

export const useAcknowledge = (id: number) => useAlertAction(id, 'acknowledge');
export const useResolve = (id: number) => useAlertAction(id, 'resolve');

export function useSaveRule(id: number | null) {
  const queryClient = useQueryClient();
  return useMutation<AlertRule, ApiError, RuleBody>({
    mutationFn: (body) => (id ? alertsApi.patchRule(id, body) : alertsApi.createRule(body)),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: rulesKey }),
  });
}

export function useDeleteRule() {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, number>({
    mutationFn: (id) => alertsApi.deleteRule(id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: rulesKey }),
  });
}

export function useCreateSilence() {
  const queryClient = useQueryClient();
  return useMutation<Silence, ApiError, SilenceBody>({
    mutationFn: (body) => alertsApi.createSilence(body),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: silencesKey }),
  });
}

export function useExpireSilence() {
  const queryClient = useQueryClient();
  return useMutation<Silence, ApiError, number>({
    mutationFn: (id) => alertsApi.expireSilence(id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: silencesKey }),
  });
}

export function useSaveChannel(id: number | null) {
  const queryClient = useQueryClient();
  return useMutation<Channel, ApiError, ChannelBody>({
    mutationFn: (body) => (id ? alertsApi.patchChannel(id, body) : alertsApi.createChannel(body)),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: channelsKey }),
  });
}

export function useDeleteChannel() {
  const queryClient = useQueryClient();
  return useMutation<void, ApiError, number>({
    mutationFn: (id) => alertsApi.deleteChannel(id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: channelsKey }),
  });
}

export function useTestChannel() {
  const queryClient = useQueryClient();
  return useMutation<TestResult, ApiError, number>({
    mutationFn: (id) => alertsApi.testChannel(id),
    onSettled: (_r, _e, id) => void queryClient.invalidateQueries({ queryKey: [...channelsKey, id, 'notifications'] }),
  });
}
