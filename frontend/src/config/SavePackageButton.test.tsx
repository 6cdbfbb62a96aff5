import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { workspace } from '../test/workspaces';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../test/utils';
import { SavePackageButton } from './SavePackageButton';

const dev: User = { ...adminUser, id: 3, username: 'dev', role: 'user', is_admin: false };
const sm = { id: 7, namespace: 'shop-7', workspace: { id: 1 } };

function render(grants: string[]) {
  let posts = 0;
  const seen = mockFetch({
    'GET /api/workspaces/1/': () => json(workspace(1, { my_role: 'custom', my_grants: grants })),
    'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
    'POST /api/catalog/servicemaps/7/package/': () =>
      ++posts === 1 ? json({ detail: 'shop-7 1.0.0 exists' }, { status: 409 }) : json({ package: 12, version: 30, source: 4 }, { status: 201 }),
  });
  renderAt(<SavePackageButton serviceMap={sm} />, { queryClient: testQueryClient(dev) });
  return seen;
}

describe('SavePackageButton', () => {
  it('saves the service map as a package (a 409 first) and links to it', async () => {
    const seen = render(['workloads.deploy']);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('save-as-package'));
    const dialog = screen.getByTestId('save-package-dialog');
    await user.clear(within(dialog).getByRole('textbox', { name: 'Version' }));
    await user.type(within(dialog).getByRole('textbox', { name: 'Version' }), '1.0.0');
    await user.click(screen.getByTestId('save-package-submit'));
    expect(await within(dialog).findByTestId('save-package-error')).toHaveAttribute('data-status', '409');
    await user.click(screen.getByTestId('save-package-submit'));
    expect(await screen.findByTestId('saved-package-link')).toHaveAttribute('href', '/catalog/packages/12');
    expect(await seen.filter((r) => r.method === 'POST')[0]!.json()).toEqual({ name: 'shop-7', version: '1.0.0', description: '' });
  });

  it('is not offered without workloads.deploy', async () => {
    const seen = render([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.some((r) => r.url.includes('/api/workspaces/1/'))).toBe(true);
    expect(screen.queryByTestId('save-as-package')).not.toBeInTheDocument();
  });
});
