import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { page } from '../test/clusters';
import { pkg } from '../test/catalog';
import { json, mockFetch, renderAt } from '../test/utils';
import { CatalogPage } from './CatalogPage';

describe('CatalogPage', () => {
  it('renders package cards and filters by scope and search in the URL', async () => {
    const seen = mockFetch({
      'GET /api/catalog/packages/': (req) => {
        const scope = new URL(req.url).searchParams.get('scope');
        return json(
          page(
            scope === 'shared'
              ? [pkg(2, { name: 'redis', workspace: null, source: { id: 1, name: 'bitnami', kind: 'helm' }, icon: 'javascript:alert(1)' })]
              : [pkg(1, { name: 'shop', description: 'A small shop', latest_version: '1.2.0' })],
          ),
        );
      },
    });
    renderAt(<CatalogPage />, { route: '/catalog' });
    const card = await screen.findByTestId('package-card-shop');
    expect(card).toHaveAttribute('href', '/catalog/packages/1');
    expect(card).toHaveTextContent('A small shop');
    expect(within(card).getByTestId('pkg-latest')).toHaveTextContent('1.2.0');
    expect(within(card).getByTestId('pkg-source')).toHaveTextContent('team-charts');
    expect(within(card).getByTestId('pkg-source')).toHaveTextContent('team-1');

    const user = userEvent.setup();
    await user.click(screen.getByTestId('scope-shared'));
    const shared = await screen.findByTestId('package-card-redis');
    expect(shared.querySelector('img')).toBeNull(); // an unsafe icon URL becomes a letter
    expect(screen.getByTestId('location')).toHaveTextContent('/catalog?scope=shared');
    await user.type(screen.getByRole('textbox', { name: 'Search' }), 'red');
    await waitFor(() => expect(seen.some((r) => new URL(r.url).searchParams.get('q') === 'red')).toBe(true));
    expect(new URL(seen.at(-1)!.url).searchParams.get('scope')).toBe('shared');
  });
});
