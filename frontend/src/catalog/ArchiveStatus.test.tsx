import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { version } from '../test/catalog';
import { json, mockFetch, renderAt } from '../test/utils';
import { ArchiveStatus } from './ArchiveStatus';
import { useVersion } from './queries';

function Probe() {
  const v = useVersion(11);
  return (
    <div>
      <ArchiveStatus version={v.data} />
      {v.data?.archive_status === 'stored' && <p data-testid="readme">{v.data.readme}</p>}
    </div>
  );
}

describe('ArchiveStatus', () => {
  it('says the chart is being fetched and looks again until the task stored it (a GET never fetches)', async () => {
    let gets = 0;
    mockFetch({
      'GET /api/catalog/versions/11/': () =>
        ++gets === 1
          ? json(version(11, { readme: '', form: [], values_yaml: '', archive_status: 'fetching', archive_message: '' }))
          : json(version(11, { archive_status: 'stored' })),
    });
    renderAt(<Probe />);
    expect(await screen.findByTestId('archive-fetching')).toHaveTextContent('Fetching the chart');
    await waitFor(() => expect(screen.getByTestId('readme')).toHaveTextContent('# Shop'), { timeout: 4000 });
    expect(screen.queryByTestId('archive-fetching')).not.toBeInTheDocument();
    expect(gets).toBe(2);
  });

  it('says why the last fetch failed, and stops asking', async () => {
    let gets = 0;
    mockFetch({
      'GET /api/catalog/versions/11/': () => {
        gets += 1;
        return json(version(11, { readme: '', form: [], archive_status: 'failed', archive_message: 'The archive does not match the digest.' }));
      },
    });
    renderAt(<Probe />);
    expect(await screen.findByTestId('archive-failed')).toHaveTextContent('The archive does not match the digest.');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(gets).toBe(1);
  });
});
