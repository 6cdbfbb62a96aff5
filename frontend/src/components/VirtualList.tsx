/**
 * A minimal windowed list for long tables (thousands of rows): fixed row height, only the
 * rows in view (plus a small overscan) are in the DOM, spacer elements keep the scrollbar
 * honest. `onEndReached` fires when the user scrolls near the end, to load the next page.
 */
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';

export function visibleRange(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan: number,
): { start: number; end: number } {
  const first = Math.floor(scrollTop / rowHeight);
  const visible = Math.ceil(viewport / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end };
}

export function VirtualList<T>({
  items,
  rowHeight,
  height,
  renderRow,
  getKey,
  header,
  overscan = 8,
  onEndReached,
  testId,
}: {
  items: readonly T[];
  rowHeight: number;
  /** Height of the scrolling viewport in pixels. */
  height: number;
  renderRow: (item: T, index: number) => ReactNode;
  getKey: (item: T, index: number) => string;
  header?: ReactNode;
  overscan?: number;
  onEndReached?: () => void;
  testId?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const { start, end } = visibleRange(scrollTop, height, rowHeight, items.length, overscan);

  const onScroll = useCallback(() => {
    const el = ref.current;
    if (el) setScrollTop(el.scrollTop);
  }, []);

  useEffect(() => {
    if (onEndReached && items.length > 0 && end >= items.length - overscan) onEndReached();
  }, [end, items.length, overscan, onEndReached]);

  return (
    <div
      className="virtual-list"
      ref={ref}
      onScroll={onScroll}
      style={{ height, overflowY: 'auto' }}
      data-testid={testId}
      data-total={items.length}
      role="table"
    >
      {header}
      <div role="rowgroup" style={{ height: items.length * rowHeight, position: 'relative' }}>
        {items.slice(start, end).map((item, offset) => {
          const index = start + offset;
          return (
            <div
              key={getKey(item, index)}
              className="virtual-row"
              role="row"
              style={{ position: 'absolute', top: index * rowHeight, left: 0, right: 0, height: rowHeight }}
            >
              {renderRow(item, index)}
            </div>
          );
        })}
      </div>
    </div>
  );
}
