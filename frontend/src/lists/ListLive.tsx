/**
 * Keeps a migrated list live: listens to each socket group the list shows (`workspace.<id>`,
 * `alerts` …) and hands every event to `onEvent`; a seq gap (resync) refetches the list.
 * Render-nothing components, one subscription per group.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { useSubscription, type SocketEvent } from '../lib/socket';

function GroupLive({ group, onEvent, queryKey }: { group: string; onEvent: (event: SocketEvent) => void; queryKey: readonly unknown[] }) {
  const queryClient = useQueryClient();
  const keyText = JSON.stringify(queryKey);
  const onResync = useCallback(() => void queryClient.invalidateQueries({ queryKey: JSON.parse(keyText) as unknown[] }), [queryClient, keyText]);
  useSubscription(group, onEvent, onResync);
  return null;
}

export function ListLive({ groups, onEvent, queryKey }: { groups: readonly string[]; onEvent: (event: SocketEvent) => void; queryKey: readonly unknown[] }) {
  return (
    <>
      {[...new Set(groups)].map((g) => (
        <GroupLive key={g} group={g} onEvent={onEvent} queryKey={queryKey} />
      ))}
    </>
  );
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const hasId = (value: unknown): value is Record<string, unknown> & { id: number } => isRecord(value) && typeof value.id === 'number';
