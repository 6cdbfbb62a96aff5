import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { VirtualList, visibleRange } from './VirtualList';

const items = Array.from({ length: 10_000 }, (_, i) => `pod-${i}`);

describe('VirtualList', () => {
  it('computes the window with overscan', () => {
    expect(visibleRange(0, 360, 36, 10_000, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleRange(36 * 100, 360, 36, 10_000, 5)).toEqual({ start: 95, end: 115 });
    expect(visibleRange(36 * 9_995, 360, 36, 10_000, 5)).toEqual({ start: 9_990, end: 10_000 });
  });

  it('renders only the rows in view out of thousands, and follows the scroll', () => {
    const onEnd = vi.fn();
    render(
      <VirtualList
        testId="list"
        items={items}
        rowHeight={36}
        height={360}
        overscan={5}
        getKey={(x) => x}
        renderRow={(x) => <span data-testid="row">{x}</span>}
        onEndReached={onEnd}
      />,
    );
    const rows = () => screen.getAllByTestId('row').map((r) => r.textContent);
    expect(rows()).toHaveLength(15);
    expect(rows()[0]).toBe('pod-0');
    expect(screen.getByTestId('list')).toHaveAttribute('data-total', '10000');
    // the spacer keeps the full height so the scrollbar is right
    expect(screen.getByTestId('list').querySelector('[role=rowgroup]')).toHaveStyle({ height: '360000px' });
    expect(onEnd).not.toHaveBeenCalled();

    const list = screen.getByTestId('list');
    list.scrollTop = 36 * 5_000;
    fireEvent.scroll(list);
    expect(rows()).toHaveLength(20);
    expect(rows()).toContain('pod-5000');
    expect(rows()).not.toContain('pod-0');
    expect(screen.getByText('pod-5000').parentElement).toHaveStyle({ top: `${36 * 5_000}px` });

    list.scrollTop = 36 * 9_990;
    fireEvent.scroll(list);
    expect(rows()).toContain('pod-9999');
    expect(onEnd).toHaveBeenCalled();
  });
});
