/**
 * A small modal dialog: focus moves into it and stays there (Tab cycles inside), Escape closes
 * it, and focus returns to the opener (components/focusTrap.ts). No dependency on
 * <dialog>/showModal so it behaves the same in jsdom and browsers.
 */
import { useId, useRef, type ReactNode } from 'react';
import { useFocusTrap } from './focusTrap';

export function Dialog({
  title,
  onClose,
  children,
  footer,
  testId,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  footer: ReactNode;
  testId?: string;
}) {
  const titleId = useId();
  const ref = useRef<HTMLDivElement>(null);
  useFocusTrap(ref, onClose);
  return (
    <div className="dialog-backdrop">
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        ref={ref}
        data-testid={testId}
      >
        <h2 id={titleId} className="dialog-title">
          {title}
        </h2>
        <div className="dialog-body">{children}</div>
        <div className="dialog-footer">{footer}</div>
      </div>
    </div>
  );
}
