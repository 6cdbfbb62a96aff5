/**
 * Helpers for other components' vitest tests of a DataTable (jsdom has no layout):
 * - rows: up to VIRTUALISE_AFTER (50) rows are all rendered; beyond that the virtualiser renders
 *   about FALLBACK_VIEWPORT (800 px) / 40 px + 10 overscan rows from the top when the box has no
 *   size, so no size mock is needed; use `scrollTable` to reach later rows.
 * - saved column sets: the table GETs /api/account/table-views/?table=<key>; add
 *   `tableViewsHandler()` to mockFetch's handlers (a failed request is ignored: the table just
 *   shows its standard columns).
 * - widths: `setTableWidths(box, table)` fakes the scroll box and table widths so the responsive
 *   hiding of priority 3/2 columns can be tested; call the returned function to undo it.
 */
import { fireEvent } from '@testing-library/react';

export function tableViewsHandler(views: unknown[] = []): Record<string, (request: Request) => Response> {
  return {
    'GET /api/account/table-views/': () =>
      new Response(JSON.stringify(views), { status: 200, headers: { 'Content-Type': 'application/json' } }),
  };
}

/** Fakes `clientWidth` of every `.dt-scroll` box and `scrollWidth` of every `.dt-table`. */
export function setTableWidths(box: number, table: number | ((visibleColumns: number) => number)): () => void {
  const clientWidth = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientWidth');
  const scrollWidth = Object.getOwnPropertyDescriptor(Element.prototype, 'scrollWidth');
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', {
    configurable: true,
    get(this: HTMLElement) {
      return this.classList.contains('dt-scroll') ? box : 0;
    },
  });
  Object.defineProperty(Element.prototype, 'scrollWidth', {
    configurable: true,
    get(this: Element) {
      if (!this.classList.contains('dt-table')) return 0;
      const cols = this.querySelectorAll('thead th').length;
      return typeof table === 'function' ? table(cols) : table;
    },
  });
  return () => {
    if (clientWidth) Object.defineProperty(HTMLElement.prototype, 'clientWidth', clientWidth);
    if (scrollWidth) Object.defineProperty(Element.prototype, 'scrollWidth', scrollWidth);
  };
}

/** Scrolls a virtualised table's box to `top` px (rows ~40 px each) and lets the virtualiser react. */
export function scrollTable(scrollBox: HTMLElement, top: number): void {
  scrollBox.scrollTop = top;
  fireEvent.scroll(scrollBox);
}
