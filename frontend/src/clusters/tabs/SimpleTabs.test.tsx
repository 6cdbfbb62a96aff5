import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { podRow } from '../../test/clusters';
import { adminUser, json, mockFetch, renderAt, testQueryClient } from '../../test/utils';
import { EventsTab, WorkloadsTab } from './SimpleTabs';

const fresh = { freshness: { state: 'stale', last_event: null } };

describe('inventory tabs', () => {
  it('filters workloads by kind on the server and links a workload to its pods', async () => {
    const deployment = {
      ...podRow('web', 'web'),
      kind: 'Deployment',
      phase: 'Available',
      data: { replicas: 3, ready_replicas: 2, images: ['nginx:1.27'], selector: { app: 'web', tier: 'front' } },
    };
    const seen = mockFetch({ 'GET /api/clusters/1/workloads/': () => json({ next: null, previous: null, results: [deployment], ...fresh }) });
    renderAt(<WorkloadsTab clusterId={1} />, { queryClient: testQueryClient(adminUser) });
    const row = await screen.findByTestId('workload-row-Deployment-web-web');
    expect(row).toHaveTextContent('2/3');
    expect(row).toHaveTextContent('nginx:1.27');
    expect(within(row).getByTestId('object-actions-button')).toBeInTheDocument(); // acting on it: src/objects
    expect(screen.getByRole('link', { name: 'web' })).toHaveAttribute(
      'href',
      '/clusters/1/pods?namespace=web&label_selector=app%3Dweb%2Ctier%3Dfront',
    );
    // A stale list says so instead of hiding its rows.
    expect(screen.getByTestId('list-freshness')).toHaveAttribute('data-state', 'stale');
    await userEvent.setup().selectOptions(screen.getByTestId('workload-kind'), 'StatefulSet');
    await waitFor(() => expect(new URL(seen.at(-1)!.url).searchParams.get('kind')).toBe('StatefulSet'));
  });

  it('colours warning events and asks for one type', async () => {
    const event = (name: string, type: string) => ({
      ...podRow('web', name),
      kind: 'Event',
      phase: type,
      data: { type, reason: type === 'Warning' ? 'BackOff' : 'Pulled', message: 'm', involved: { kind: 'Pod', name: 'web-1', namespace: 'web' }, count: 1, first_seen: null, last_seen: null, source: 'kubelet' },
    });
    const seen = mockFetch({
      'GET /api/clusters/1/events/': () => json({ next: null, previous: null, results: [event('a', 'Warning'), event('b', 'Normal')], ...fresh }),
    });
    renderAt(<EventsTab clusterId={1} />, { queryClient: testQueryClient(adminUser) });
    expect(await screen.findByTestId('event-row-Warning')).toHaveClass('row-warning');
    expect(screen.getByTestId('event-row-Normal')).not.toHaveClass('row-warning');
    await userEvent.setup().selectOptions(screen.getByTestId('event-type'), 'Warning');
    await waitFor(() => expect(new URL(seen.at(-1)!.url).searchParams.get('type')).toBe('Warning'));
  });
});
