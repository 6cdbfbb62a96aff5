import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { ChangePasswordPage } from './ChangePasswordPage';

describe('ChangePasswordPage', () => {
  it('checks the repeat, shows a wrong current password at its field, then succeeds', async () => {
    let attempt = 0;
    const seen = mockFetch({
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/auth/password/': () => {
        attempt += 1;
        return attempt === 1
          ? json({ detail: 'Invalid input.', errors: { current_password: ['The current password is wrong.'] } }, { status: 400 })
          : new Response(null, { status: 204 });
      },
    });
    renderAt(<ChangePasswordPage />, { queryClient: testQueryClient(adminUser) });
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Current password'), 'old-one');
    await u.type(screen.getByLabelText('New password'), 'new-password-123');
    await u.type(screen.getByLabelText('New password again'), 'new-password-12');
    expect(screen.getByText('The passwords do not match.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Change password' })).toBeDisabled();
    await u.type(screen.getByLabelText('New password again'), '3');
    await u.click(screen.getByRole('button', { name: 'Change password' }));
    await waitFor(() => expect(screen.getByLabelText('Current password')).toHaveAccessibleDescription('The current password is wrong.'));
    await u.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByTestId('password-changed')).toBeInTheDocument();
    expect(await seen.filter((r) => r.method === 'POST').at(-1)!.json()).toEqual({ current_password: 'old-one', password: 'new-password-123' });
  });
});
