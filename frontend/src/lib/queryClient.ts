/**
 * The TanStack Query client: the app's only store. Socket events patch it;
 * a 401 anywhere marks the session as gone by setting ['me'] to null.
 */
import { QueryClient, type Query } from '@tanstack/react-query';
import { isClientError } from '../api/errors';

export function createQueryClient(): QueryClient {
  const client = new QueryClient({
    defaultOptions: {
      queries: {
        // Never retry 4xx (401/403/404 are answers); retry other failures twice.
        retry: (failureCount, error) => !isClientError(error) && failureCount < 2,
        staleTime: 10_000,
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
  refetchWhenPatchedDuringFetch(client);
  return client;
}

/**
 * A socket event patches a query (`setQueryData`) while a fetch of that query is on its way: the
 * fetch's answer may have been read before the change the event carries, and TanStack would put
 * it over the patch when it lands (a move page kept "running" for good when the refetch it made
 * on subscribing answered after the "healthy" event). So such an answer is not trusted: the
 * query is fetched once more, started after the patch, and shows the newer of the two states.
 * A patch made in the same task that started the fetch (an event that both patches and
 * refetches, as on a seq gap) is older than anything that fetch can read: it costs no refetch.
 *
 * A busy list (events every 200 ms, a fetch that takes longer) would have every follow-up
 * patched in its turn: a query gets at most one follow-up per `cooldownMs`, and one that comes
 * sooner waits for the end of it (one fetch, however many answers were patched meanwhile).
 * Returns the unsubscribe function.
 */
export function refetchWhenPatchedDuringFetch(client: QueryClient, { cooldownMs = 10_000 } = {}): () => void {
  const fetches = new WeakMap<Query, { sent: boolean }>();
  const patched = new WeakSet<Query>();
  const lastFollowUp = new WeakMap<Query, number>();
  const waiting = new WeakSet<Query>();
  const followUp = (query: Query) => {
    lastFollowUp.set(query, Date.now());
    void client.invalidateQueries({ queryKey: query.queryKey, exact: true });
  };
  return client.getQueryCache().subscribe((event) => {
    if (event.type !== 'updated') return;
    const { query, action } = event;
    if (action.type === 'fetch') {
      const started = { sent: false };
      fetches.set(query, started);
      setTimeout(() => {
        started.sent = true;
      }, 0);
    } else if (action.type === 'success' && action.manual) {
      if (query.state.fetchStatus === 'fetching' && fetches.get(query)?.sent !== false) patched.add(query);
    } else if ((action.type === 'success' || action.type === 'error') && patched.has(query)) {
      patched.delete(query);
      const since = Date.now() - (lastFollowUp.get(query) ?? -Infinity);
      if (since >= cooldownMs) followUp(query);
      else if (!waiting.has(query)) {
        waiting.add(query);
        setTimeout(() => {
          waiting.delete(query);
          followUp(query);
        }, cooldownMs - since);
      }
    }
  });
}
