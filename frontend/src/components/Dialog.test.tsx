import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { ConfirmDialog } from './ConfirmDialog';
import { Dialog } from './Dialog';

function Harness({ nested = false }: { nested?: boolean }) {
  const [open, setOpen] = useState(false);
  const [inner, setInner] = useState(false);
  return (
    <div>
      <button type="button" onClick={() => setOpen(true)}>
        open
      </button>
      <button type="button">behind</button>
      {open && (
        <Dialog
          title="Edit"
          onClose={() => setOpen(false)}
          testId="dialog"
          footer={
            <>
              <button type="button" onClick={() => setOpen(false)}>
                cancel
              </button>
              <button type="button">save</button>
            </>
          }
        >
          <label htmlFor="name">name</label>
          <input id="name" />
          <button type="button" disabled>
            disabled
          </button>
          {nested && (
            <button type="button" onClick={() => setInner(true)}>
              confirm
            </button>
          )}
          {inner && (
            <ConfirmDialog
              title="Sure?"
              message="Really"
              confirmLabel="yes"
              busyLabel="…"
              busy={false}
              error={null}
              onConfirm={() => setInner(false)}
              onCancel={() => setInner(false)}
            />
          )}
        </Dialog>
      )}
    </div>
  );
}

describe('Dialog focus', () => {
  it('moves focus in, cycles Tab and Shift+Tab inside, closes on Escape and returns focus', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    const opener = screen.getByRole('button', { name: 'open' });
    await user.click(opener);
    const dialog = screen.getByRole('dialog', { name: 'Edit' });
    expect(dialog).toHaveFocus();

    await user.tab();
    expect(screen.getByLabelText('name')).toHaveFocus();
    await user.tab();
    expect(screen.getByRole('button', { name: 'cancel' })).toHaveFocus();
    await user.tab();
    expect(screen.getByRole('button', { name: 'save' })).toHaveFocus();
    await user.tab(); // wraps to the first control, never to the page behind
    expect(screen.getByLabelText('name')).toHaveFocus();
    await user.tab({ shift: true }); // and back to the last
    expect(screen.getByRole('button', { name: 'save' })).toHaveFocus();

    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(opener).toHaveFocus();
  });

  it('brings focus back when something behind the dialog takes it', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole('button', { name: 'open' }));
    screen.getByRole('button', { name: 'behind' }).focus();
    expect(screen.getByRole('dialog', { name: 'Edit' })).toHaveFocus();
  });

  it('lets the topmost of two dialogs hold focus; Escape closes only that one', async () => {
    const user = userEvent.setup();
    render(<Harness nested />);
    await user.click(screen.getByRole('button', { name: 'open' }));
    const confirm = screen.getByRole('button', { name: 'confirm' });
    await user.click(confirm);
    const inner = screen.getByRole('dialog', { name: 'Sure?' });
    expect(inner).toHaveFocus();
    await user.tab();
    await user.tab();
    await user.tab();
    expect(inner.contains(document.activeElement)).toBe(true);
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog', { name: 'Sure?' })).not.toBeInTheDocument();
    expect(screen.getByRole('dialog', { name: 'Edit' })).toBeInTheDocument();
    expect(confirm).toHaveFocus();
  });
});
