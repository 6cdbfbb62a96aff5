import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { AppRoutes } from '../App';
import type { User } from '../api/types';
import { Providers } from '../Providers';
import { adminUser, json, mockFetch, testQueryClient } from '../test/utils';

const member: User = { ...adminUser, id: 5, username: 'devon', role: 'user', is_admin: false };

describe('the global search bar (issue 22)', () => {
  it('is there for a workspace member too, and asks the scoped search API', async () => {
    const seen = mockFetch({
      'GET /api/clusters/search/': () => json({ next: null, previous: null, results: [] }),
      'GET /api/workspaces/': () => json({ next: null, previous: null, results: [] }),
      'GET /api/catalog/releases/': () => json({ next: null, previous: null, results: [] }),
      'GET /api/workspaces/servicemaps/': () => json({ next: null, previous: null, results: [] }),
    });
    render(
      <Providers queryClient={testQueryClient(member)}>
        <MemoryRouter initialEntries={['/workspaces']}>
          <AppRoutes />
        </MemoryRouter>
      </Providers>,
    );
    const box = await screen.findByTestId('global-search');
    await userEvent.setup().type(box, 'web');
    await screen.findByTestId('search-results');
    // The panel opens with the first letters; the debounced request for the whole word may come after it.
    await waitFor(() => expect(seen.some((r) => r.url.includes('/api/clusters/search/') && r.url.includes('q=web'))).toBe(true));
  });
});
