import { QueryClient, QueryObserver } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { createQueryClient, refetchWhenPatchedDuringFetch } from './queryClient';

interface Row {
  status: string;
}

/** A query function whose answers the test releases one at a time. */
function controlledFetch() {
  const pending: ((row: Row) => void)[] = [];
  let calls = 0;
  const fn = () =>
    new Promise<Row>((resolve) => {
      calls += 1;
      pending.push(resolve);
    });
  const answer = (index: number, row: Row) => {
    const resolve = pending[index];
    if (!resolve) throw new Error(`no fetch number ${index} was made`);
    resolve(row);
  };
  return { fn, answer, calls: () => calls };
}

/** ``key`` observed (as a mounted page would) on ``client``, answered by a controlled fetch. */
async function observed(client: QueryClient, key: unknown[]) {
  const fetch = controlledFetch();
  const observer = new QueryObserver<Row>(client, { queryKey: key, queryFn: fetch.fn });
  const unsubscribe = observer.subscribe(() => undefined);
  await settle();
  return { fetch, unsubscribe };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 0));
}

describe('a patch that lands while the query is being fetched', () => {
  it('is not overwritten by the older answer: the query is fetched again', async () => {
    const client = createQueryClient();
    const key = ['moves', 'detail', 2];
    const { fetch, unsubscribe } = await observed(client, key);
    expect(fetch.calls()).toBe(1);

    // the socket's event arrives first, then the answer the server read before that change
    client.setQueryData<Row>(key, { status: 'healthy' });
    fetch.answer(0, { status: 'running' });
    await settle();
    expect(fetch.calls()).toBe(2); // the answer is not trusted: asked again

    fetch.answer(1, { status: 'healthy' });
    await settle();
    expect(client.getQueryData<Row>(key)).toEqual({ status: 'healthy' });
    expect(fetch.calls()).toBe(2); // and no more than once
    unsubscribe();
  });

  it('leaves a patch alone when no fetch is on its way', async () => {
    const client = createQueryClient();
    const key = ['moves', 'detail', 3];
    const { fetch, unsubscribe } = await observed(client, key);
    fetch.answer(0, { status: 'running' });
    await settle();

    client.setQueryData<Row>(key, { status: 'healthy' });
    await settle();
    expect(fetch.calls()).toBe(1);
    expect(client.getQueryData<Row>(key)).toEqual({ status: 'healthy' });
    unsubscribe();
  });

  it('costs no refetch when the patch comes in the task that started the fetch', async () => {
    const client = createQueryClient();
    const key = ['audit', 'list'];
    const { fetch, unsubscribe } = await observed(client, key);
    fetch.answer(0, { status: 'old' });
    await settle();

    // an event with a seq gap: refetch, and patch what it carries, in one go
    void client.invalidateQueries({ queryKey: key });
    client.setQueryData<Row>(key, { status: 'patched' });
    await settle();
    fetch.answer(1, { status: 'fresh' });
    await settle();
    expect(fetch.calls()).toBe(2);
    expect(client.getQueryData<Row>(key)).toEqual({ status: 'fresh' });
    unsubscribe();
  });

  it('asks again at most once per cooldown while every answer gets patched', async () => {
    const client = new QueryClient();
    const unsubscribeCache = refetchWhenPatchedDuringFetch(client, { cooldownMs: 200 });
    const key = ['pods', 'list'];
    const { fetch, unsubscribe } = await observed(client, key);

    // a busy list: an event lands during every fetch
    client.setQueryData<Row>(key, { status: 'e1' });
    fetch.answer(0, { status: 'a0' });
    await settle();
    expect(fetch.calls()).toBe(2); // the first follow-up at once
    client.setQueryData<Row>(key, { status: 'e2' });
    fetch.answer(1, { status: 'a1' });
    await settle();
    expect(fetch.calls()).toBe(2); // the next waits for the end of the cooldown
    await new Promise((resolve) => setTimeout(resolve, 250));
    await settle();
    expect(fetch.calls()).toBe(3);
    fetch.answer(2, { status: 'a2' });
    await settle();
    expect(client.getQueryData<Row>(key)).toEqual({ status: 'a2' });
    unsubscribe();
    unsubscribeCache();
  });
});
