import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { adminUser, renderAt } from '../test/utils';
import { UserMenu } from './UserMenu';

describe('UserMenu with the keyboard', () => {
  it('opens with Enter, moves with the arrows, and Escape closes it with focus back on the button', async () => {
    const user = userEvent.setup();
    renderAt(<UserMenu user={adminUser} />);
    const button = screen.getByTestId('user-menu');
    button.focus();
    await user.keyboard('{Enter}');
    expect(screen.getByRole('menu')).toBeInTheDocument();
    await user.keyboard('{ArrowDown}');
    expect(screen.getByTestId('menu-tokens')).toHaveFocus();
    await user.keyboard('{ArrowDown}');
    expect(screen.getByTestId('menu-password')).toHaveFocus();
    await user.keyboard('{ArrowUp}{ArrowUp}');
    expect(screen.getByTestId('logout')).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('menu')).not.toBeInTheDocument();
    expect(button).toHaveFocus();
  });
});
