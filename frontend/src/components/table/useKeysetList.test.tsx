import { act, renderHook, waitFor } from '@testing-library/react';
import { QueryClientProvider } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { testQueryClient } from '../../test/utils';
import { nextCursor, useKeysetList } from './useKeysetList';

describe('useKeysetList', () => {
  it('concatenates pages and follows the next cursor', async () => {
    const fetchPage = vi.fn(async (cursor: string | null) =>
      cursor === null
        ? { results: [1, 2], next: 'http://localhost/api/things/?cursor=abc&ordering=name' }
        : { results: [3], next: null },
    );
    const client = testQueryClient();
    const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={client}>{children}</QueryClientProvider>;
    const { result } = renderHook(() => useKeysetList<number>({ queryKey: ['things', 'name'], fetchPage }), { wrapper });
    await waitFor(() => expect(result.current.rows).toEqual([1, 2]));
    expect(result.current.hasMore).toBe(true);
    act(() => result.current.loadMore());
    await waitFor(() => expect(result.current.rows).toEqual([1, 2, 3]));
    expect(fetchPage).toHaveBeenLastCalledWith('abc');
    expect(result.current.hasMore).toBe(false);
    expect(result.current.error).toBeNull();
  });

  it('reads cursors from links and bare values', () => {
    expect(nextCursor('/api/x/?cursor=q1')).toBe('q1');
    expect(nextCursor('bare')).toBe('bare');
    expect(nextCursor(null)).toBeNull();
  });
});
