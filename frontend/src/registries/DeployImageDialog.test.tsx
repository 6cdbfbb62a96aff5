import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { page } from '../test/clusters';
import { release } from '../test/catalog';
import { workspace } from '../test/workspaces';
import { json, mockFetch, renderAt } from '../test/utils';
import { DeployImageDialog, valuesPreview } from './DeployImageDialog';
import { DIGEST, policy, tag } from './testData';

const IMAGE = '127.0.0.1:55000/team-1/web';

describe('valuesPreview', () => {
  it('says what the deploy writes in each format', () => {
    expect(valuesPreview('web.image', 'split', IMAGE, '1.0.B000002', 'sha256:ab')).toEqual([
      `web.image.repository: ${IMAGE}`,
      'web.image.tag: 1.0.B000002@sha256:ab',
    ]);
    expect(valuesPreview(' ', 'reference', IMAGE, 'v1', 'sha256:ab')).toEqual([`image: ${IMAGE}:v1@sha256:ab`]);
  });
});

describe('DeployImageDialog', () => {
  it('offers releases of the workspaces the caller deploys in, and shows a scan-policy refusal with the blocking findings', async () => {
    const seen = mockFetch({
      'GET /api/catalog/releases/': () =>
        json(page([release(3, { name: 'shop' }), release(4, { name: 'other-team', workspace: { id: 2, name: 'team-2' } })])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/builds/deploy-image/': () =>
        json(
          {
            detail: 'The scan policy of workspace team-1 blocks this image.',
            code: 'image_blocked_by_scan',
            errors: { images: [`${IMAGE}@${DIGEST}: CVE-2024-0001 (CRITICAL) in openssl 3.0.1`] },
          },
          { status: 400 },
        ),
      'GET /api/builds/scans/': () =>
        json({
          registry: 1,
          repository: 'team-1/web',
          digest: DIGEST,
          counts: { CRITICAL: 1, LOW: 1 },
          findings: [
            { id: 'CVE-2024-0001', severity: 'CRITICAL', package: 'openssl', version: '3.0.1', fixed_version: '3.0.13', title: '' },
            { id: 'CVE-2024-0002', severity: 'LOW', package: 'zlib', version: '1.2.13', fixed_version: '', title: '' },
          ],
          scanned: '2026-12-01T09:31:00Z',
          run: 5,
        }),
      'GET /api/builds/scan-policies/1/': () => json(policy()),
      'GET /api/builds/definitions/': () => json(page([])),
    });
    renderAt(
      <DeployImageDialog
        registry={1}
        repository="team-1/web"
        image={IMAGE}
        tag={tag('1.0.B000002')}
        workspaces={[workspace(1, { my_grants: ['workloads.deploy'] })]}
        onClose={vi.fn()}
      />,
    );
    const dialog = await screen.findByTestId('deploy-image-dialog');
    const select = within(dialog).getByTestId('deploy-release');
    await waitFor(() => expect(within(select).getAllByRole('option')).toHaveLength(2)); // the prompt + team-1's release only
    expect(within(select).queryByRole('option', { name: /other-team/ })).not.toBeInTheDocument();

    const user = userEvent.setup();
    await user.selectOptions(select, '3');
    await user.clear(within(dialog).getByRole('textbox', { name: 'Image path in the values' }));
    await user.type(within(dialog).getByRole('textbox', { name: 'Image path in the values' }), 'web.image');
    expect(within(dialog).getByTestId('deploy-preview')).toHaveTextContent(`web.image.tag: 1.0.B000002@${DIGEST}`);
    await user.click(within(dialog).getByTestId('deploy-image-submit'));

    const blocked = await within(dialog).findByTestId('deploy-blocked');
    expect(blocked).toHaveTextContent("The workspace's scan policy blocks this image.");
    expect(within(blocked).getByTestId('blocked-problems')).toHaveTextContent('CVE-2024-0001 (CRITICAL) in openssl 3.0.1');
    // the scan's findings the policy blocks: the critical one; the low one is under the threshold
    const findings = await within(blocked).findByTestId('blocking-findings');
    expect(within(findings).getByTestId('finding-CVE-2024-0001')).toHaveTextContent('3.0.13');
    expect(within(findings).queryByTestId('finding-CVE-2024-0002')).not.toBeInTheDocument();
    expect(within(dialog).queryByTestId('deploy-image-done')).not.toBeInTheDocument();

    const body = await seen.find((r) => r.method === 'POST' && r.url.endsWith('/deploy-image/'))!.json();
    expect(body).toEqual({
      registry: 1,
      repository: 'team-1/web',
      digest: DIGEST,
      tag: '1.0.B000002',
      release: 3,
      image_path: 'web.image',
      image_format: 'split',
    });
  });

  it('links to the release once the revision is made', async () => {
    const seen = mockFetch({
      'GET /api/catalog/releases/': () => json(page([release(3, { name: 'shop' })])),
      'GET /api/auth/csrf/': () => json({ csrfToken: 't' }),
      'POST /api/builds/deploy-image/': () => json({ release: { id: 3, name: 'shop' }, revision: 4 }, { status: 202 }),
      'GET /api/builds/definitions/': (r) => {
        expect(new URL(r.url).searchParams.get('workspace')).toBe('1');
        return json(
          page([
            { id: 8, name: 'other', deploy_release: null, deploy_image_path: 'image', deploy_image_format: 'split' },
            { id: 9, name: 'web-build', deploy_release: { id: 3, name: 'shop', service_map_id: 7 }, deploy_image_path: 'app.image', deploy_image_format: 'reference' },
          ]),
        );
      },
    });
    renderAt(
      <DeployImageDialog registry={1} repository="team-1/web" image={IMAGE} tag={tag('v1')} workspaces={[workspace(1)]} onClose={vi.fn()} />,
    );
    const user = userEvent.setup();
    const select = await screen.findByTestId('deploy-release');
    await waitFor(() => expect(within(select).getAllByRole('option')).toHaveLength(2));
    await user.selectOptions(select, '3');
    // a build definition deploys to this release: its path and format are the starting values
    expect(await screen.findByTestId('deploy-from-definition')).toHaveTextContent('build definition web-build');
    expect(screen.getByRole('textbox', { name: 'Image path in the values' })).toHaveValue('app.image');
    expect(screen.getByRole('radio', { name: /whole reference/ })).toBeChecked();
    expect(screen.getByTestId('deploy-preview')).toHaveTextContent(`app.image: ${IMAGE}:v1@${DIGEST}`);
    await user.click(screen.getByTestId('deploy-image-submit'));
    expect(await screen.findByTestId('deploy-image-done')).toHaveTextContent('Revision 4 of shop is rolling out.');
    expect(screen.getByTestId('deploy-image-release-link')).toHaveAttribute('href', '/releases/3');
    const body = await seen.find((r) => r.method === 'POST' && r.url.endsWith('/deploy-image/'))!.json();
    expect(body).toMatchObject({ image_path: 'app.image', image_format: 'reference', release: 3, digest: DIGEST });
  });
});
