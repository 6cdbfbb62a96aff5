import { describe, expect, it } from 'vitest';
import { podRow } from '../test/clusters';
import { testQueryClient } from '../test/utils';
import { applyObjectsChanged, changeEntries, parseLabelSelector, patchInventory, rowMatches } from './live';
import { inventoryKey, type InventoryData } from './queries';

function data(...pages: { rows: ReturnType<typeof podRow>[]; next?: string | null }[]): InventoryData {
  return {
    pages: pages.map((p) => ({ next: p.next ?? null, previous: null, results: p.rows, freshness: { state: 'synced', last_event: null } })),
    pageParams: pages.map((_, i) => (i === 0 ? null : `c${i}`)),
  };
}

const names = (d: InventoryData | undefined) => d!.pages.map((p) => p.results.map((r) => `${r.namespace}/${r.name}`));

describe('patching inventory lists', () => {
  it('replaces, deletes and inserts rows in sorted place', () => {
    const before = data({ rows: [podRow('a', 'web-1'), podRow('a', 'web-3')], next: 'x' }, { rows: [podRow('b', 'api-1')] });
    const after = patchInventory(
      before,
      {},
      [podRow('a', 'web-3', {}, { status_text: 'CrashLoopBackOff' }), podRow('a', 'web-2'), podRow('c', 'zz')],
      [{ kind: 'Pod', namespace: 'a', name: 'web-1' }],
    );
    expect(names(after)).toEqual([['a/web-2', 'a/web-3'], ['b/api-1', 'c/zz']]);
    expect(after!.pages[0]!.results[1]!.data).toMatchObject({ status_text: 'CrashLoopBackOff' });
    // untouched input
    expect(names(before)).toEqual([['a/web-1', 'a/web-3'], ['b/api-1']]);
  });

  it('does not insert rows that the list filters out, or past unloaded pages', () => {
    const before = data({ rows: [podRow('a', 'web-1')], next: 'more' });
    expect(names(patchInventory(before, { namespace: 'a' }, [podRow('b', 'x')], []))).toEqual([['a/web-1']]);
    expect(names(patchInventory(before, {}, [podRow('z', 'late')], []))).toEqual([['a/web-1']]);
    expect(names(patchInventory(before, { ordering: '-created' }, [podRow('a', 'new', { created: '2026-11-22T00:00:00Z' })], []))).toEqual([
      ['a/new', 'a/web-1'],
    ]);
  });

  it('evaluates the filters it can and refuses the ones it cannot', () => {
    const row = podRow('a', 'web-1', { node_name: 'n1', labels: { app: 'web', tier: 'front' } });
    expect(rowMatches(row, { namespace: 'a', node: 'n1', phase: 'Running', name_prefix: 'web' })).toBe(true);
    expect(rowMatches(row, { label_selector: 'app=web,tier!=db,!legacy' })).toBe(true);
    expect(rowMatches(row, { label_selector: 'app in (web)' })).toBe(false);
    expect(rowMatches(row, { involved_kind: 'Pod' })).toBe(false);
    expect(parseLabelSelector('app==web,tier')!({ app: 'web', tier: 'x' })).toBe(true);
    expect(parseLabelSelector('app=web')!({ app: 'api' })).toBe(false);
  });

  it('applies full entries to every cached list of the kind and returns digests to refetch', () => {
    const qc = testQueryClient();
    qc.setQueryData(inventoryKey(1, 'nodes', {}), data({ rows: [{ ...podRow('', 'n1'), kind: 'Node' }] }));
    const refetch = applyObjectsChanged(qc, 1, {
      changes: [
        { kind: 'Node', upserts: [{ ...podRow('', 'n2'), kind: 'Node' }], deletes: [{ namespace: '', name: 'n1' }] },
        { kind: 'Pod', namespaces: { web: { upserted: 2, deleted: 0 } } },
        { kind: 'Deployment', truncated: true },
        { kind: 'Unknown', upserts: [] },
      ],
    });
    expect(names(qc.getQueryData(inventoryKey(1, 'nodes', {})))).toEqual([['/n2']]);
    expect(refetch.get('pods')).toEqual(new Set(['web']));
    expect(refetch.get('workloads')).toBeNull();
    expect(changeEntries({ kind: 'Pod', upserts: [] })).toHaveLength(1);
  });
});
