/** A tag's scan findings in a side drawer (GET /api/builds/scans/): worst first, with fixed versions. */
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/errors';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { formatDateTime } from '../lib/format';
import { Drawer, ScanChips, SeverityChip } from './common';
import { shortDigest } from './format';
import { useScan } from './queries';
import type { Finding, Tag } from './types';

export function FindingsTable({ findings, testId = 'findings-table' }: { findings: Finding[]; testId?: string }) {
  const { t } = useTranslation();
  return (
    <table className="table table-dense" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">{t('registries.findings.vulnerability')}</th>
          <th scope="col">{t('registries.findings.severity')}</th>
          <th scope="col">{t('registries.findings.package')}</th>
          <th scope="col">{t('registries.findings.installed')}</th>
          <th scope="col">{t('registries.findings.fixed')}</th>
        </tr>
      </thead>
      <tbody>
        {findings.map((f) => (
          <tr key={`${f.id}-${f.package}`} data-testid={`finding-${f.id}`}>
            <td className="mono">
              {f.id}
              {f.title && <div className="small muted">{f.title}</div>}
            </td>
            <td>
              <SeverityChip severity={f.severity} />
            </td>
            <td className="mono">{f.package}</td>
            <td className="mono">{f.version}</td>
            <td className="mono">{f.fixed_version || <span className="muted">{t('registries.findings.noFix')}</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function FindingsDrawer({ registry, repository, image, tag, onClose }: { registry: number; repository: string; image: string; tag: Tag; onClose: () => void }) {
  const { t } = useTranslation();
  const scan = useScan(registry, repository, tag.digest);
  const notFound = scan.error instanceof ApiError && scan.error.status === 404;
  return (
    <Drawer title={t('registries.findings.title', { image: `${image}:${tag.tag}` })} onClose={onClose} testId="findings-drawer">
      <p className="small muted mono">{shortDigest(tag.digest)}</p>
      {scan.isPending && <Loading />}
      {notFound && <p className="muted">{t('registries.scan.notScanned')}</p>}
      {scan.isError && !notFound && <ErrorState error={scan.error} onRetry={() => void scan.refetch()} />}
      {scan.data && (
        <>
          <p>
            <ScanChips scan={{ counts: scan.data.counts, scanned: scan.data.scanned }} />{' '}
            <span className="small muted">{t('registries.findings.scanned', { when: formatDateTime(scan.data.scanned) ?? '' })}</span>
          </p>
          {scan.data.findings.length === 0 ? (
            <p className="muted" data-testid="findings-empty">
              {t('registries.findings.none')}
            </p>
          ) : (
            <FindingsTable findings={scan.data.findings} />
          )}
        </>
      )}
    </Drawer>
  );
}
