/**
 * Keyboard focus for modal surfaces (Dialog, the registries' Drawer): focus moves in when one
 * opens, Tab and Shift+Tab cycle inside it, focus that escapes (a click on the page behind) is
 * brought back, Escape closes it, and focus returns to the element that opened it. Only the
 * topmost open surface holds focus, so a confirmation opened from a dialog works too.
 */
import { useEffect, useRef, type RefObject } from 'react';

const FOCUSABLE = [
  'a[href]',
  'area[href]',
  'button:not([disabled])',
  'input:not([disabled]):not([type="hidden"])',
  'select:not([disabled])',
  'textarea:not([disabled])',
  'iframe',
  'summary',
  '[contenteditable="true"]',
  '[tabindex]:not([tabindex="-1"])',
].join(',');

/** The elements of `root` that Tab stops at, in order. */
export function focusableIn(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (el) => !el.closest('[inert]') && el.getAttribute('aria-hidden') !== 'true' && el.tabIndex >= 0,
  );
}

const stack: HTMLElement[] = [];

export function useFocusTrap(ref: RefObject<HTMLElement | null>, onEscape: () => void): void {
  // The trap is set up once per opening; the latest onEscape is read through this ref.
  const onEscapeRef = useRef(onEscape);
  onEscapeRef.current = onEscape;
  useEffect(() => {
    const root = ref.current;
    if (!root) return undefined;
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    stack.push(root);
    if (!root.contains(document.activeElement)) root.focus();
    const top = () => stack[stack.length - 1] === root;

    const onKeyDown = (e: KeyboardEvent) => {
      // A control inside that used the key itself wins: an open menu's Escape, the YAML editor's
      // Tab (it indents; Escape then Tab leaves it).
      if (!top() || e.defaultPrevented) return;
      if (e.key === 'Escape') {
        e.preventDefault();
        onEscapeRef.current();
        return;
      }
      if (e.key !== 'Tab') return;
      const items = focusableIn(root);
      const first = items[0];
      const last = items[items.length - 1];
      if (!first || !last) {
        e.preventDefault();
        root.focus();
        return;
      }
      const active = document.activeElement;
      if (e.shiftKey && (active === first || active === root || !root.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !root.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    };
    const onFocusIn = (e: FocusEvent) => {
      if (top() && e.target instanceof Node && !root.contains(e.target)) root.focus();
    };
    // Bubble phase: the dialog's own controls see their keys first.
    document.addEventListener('keydown', onKeyDown);
    document.addEventListener('focusin', onFocusIn);
    return () => {
      document.removeEventListener('keydown', onKeyDown);
      document.removeEventListener('focusin', onFocusIn);
      const at = stack.lastIndexOf(root);
      if (at >= 0) stack.splice(at, 1);
      if (previous && previous.isConnected) previous.focus();
    };
  }, [ref]);
}
