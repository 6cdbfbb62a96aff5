import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { renderAt } from '../test/utils';
import { blockingFindings, countChips, imageSize, platformText, shortDigest } from './format';
import { TagsTable } from './TagsTable';
import { DIGEST, tag } from './testData';

describe('image formatting', () => {
  it('shortens digests to the algorithm and 12 hex digits', () => {
    expect(shortDigest(DIGEST)).toBe('sha256:3f8a1c0e9b7d');
    expect(shortDigest('')).toBe('—');
    expect(shortDigest(null)).toBe('—');
  });

  it('shows sizes in binary units, and nothing known as a dash', () => {
    expect(imageSize(512)).toBe('512 B');
    expect(imageSize(2_516_582)).toBe('2.4 MiB');
    expect(imageSize(734_003_200)).toBe('700 MiB');
    expect(imageSize(null)).toBe('—');
  });

  it('names platforms os/arch[/variant] and counts severities worst first, skipping zeros', () => {
    expect(platformText({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    expect(countChips({ LOW: 3, CRITICAL: 1, HIGH: 0, MEDIUM: 2 })).toEqual([
      { severity: 'CRITICAL', count: 1 },
      { severity: 'MEDIUM', count: 2 },
      { severity: 'LOW', count: 3 },
    ]);
  });

  it('finds what a policy blocks: at or above the severity, minus exceptions still in force', () => {
    const f = (id: string, severity: 'CRITICAL' | 'HIGH' | 'LOW') => ({ id, severity, package: 'p', version: '1', fixed_version: '', title: '' });
    const exceptions = [
      { id: 1, vulnerability: 'CVE-2', reason: 'r', expires: '2030-01-01T00:00:00Z', created: '', created_by: null },
      { id: 2, vulnerability: 'CVE-3', reason: 'r', expires: '2020-01-01T00:00:00Z', created: '', created_by: null },
    ];
    const findings = [f('CVE-1', 'CRITICAL'), f('CVE-2', 'CRITICAL'), f('CVE-3', 'HIGH'), f('CVE-4', 'LOW')];
    const now = Date.parse('2026-12-01T00:00:00Z');
    expect(blockingFindings(findings, 'HIGH', exceptions, now).map((x) => x.id)).toEqual(['CVE-1', 'CVE-3']);
    expect(blockingFindings(findings, '', exceptions, now)).toEqual([]);
  });
});

describe('TagsTable', () => {
  it('shows digest, size, platforms and the scan summary; findings open from the chips', async () => {
    const onFindings = vi.fn();
    const tags = [
      tag('1.0.B000002', { scan: { counts: { CRITICAL: 1, HIGH: 2, LOW: 4 }, scanned: '2026-12-01T09:31:00Z' } }),
      tag('1.0.B000001', { size: 1536, platforms: [], scan: null }),
      tag('clean', { scan: { counts: { CRITICAL: 0 }, scanned: '2026-12-01T09:31:00Z' } }),
    ];
    renderAt(
      <TagsTable image="127.0.0.1:55000/team-a/web" tags={tags} canDelete={false} canDeploy onFindings={onFindings} onDelete={vi.fn()} onDeploy={vi.fn()} />,
    );
    const scanned = screen.getByTestId('tag-row-1.0.B000002');
    expect(within(scanned).getByTestId('tag-digest')).toHaveAttribute('data-digest', DIGEST);
    expect(within(scanned).getByTestId('tag-digest')).toHaveTextContent('sha256:3f8a1c0e9b7d');
    expect(within(scanned).getByTestId('tag-digest')).toHaveAttribute('title', DIGEST);
    expect(within(scanned).getByTestId('tag-size')).toHaveTextContent('2.4 MiB');
    expect(within(scanned).getByTestId('tag-platforms')).toHaveTextContent('linux/amd64');
    expect(within(scanned).getByTestId('sev-CRITICAL')).toHaveTextContent('Critical 1');
    expect(within(scanned).getByTestId('sev-HIGH')).toHaveTextContent('High 2');
    expect(within(scanned).getByTestId('sev-LOW')).toHaveTextContent('Low 4');
    expect(within(scanned).queryByTestId('sev-MEDIUM')).not.toBeInTheDocument();

    const unscanned = screen.getByTestId('tag-row-1.0.B000001');
    expect(within(unscanned).getByTestId('tag-size')).toHaveTextContent('1.5 KiB');
    expect(within(unscanned).getByTestId('tag-platforms')).toHaveTextContent('—');
    expect(within(unscanned).getByTestId('scan-none')).toHaveTextContent('Not scanned');
    expect(within(screen.getByTestId('tag-row-clean')).getByTestId('scan-clean')).toHaveTextContent('No findings');

    // the row's actions follow the permissions: deploy yes, delete no
    expect(within(scanned).getByTestId('deploy-tag-1.0.B000002')).toBeInTheDocument();
    expect(within(scanned).queryByTestId('delete-tag-1.0.B000002')).not.toBeInTheDocument();

    await userEvent.setup().click(within(scanned).getByTestId('findings-1.0.B000002'));
    expect(onFindings).toHaveBeenCalledWith(tags[0]);
  });
});
