/** /admin/quotas (operators, admins): every allocation, per cluster × workspace, allocated/shared/used. */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { QuotaBars } from './common';
import { orderedKeys } from './quantity';
import { useQuotaOverview } from './queries';

export function QuotaOverviewPage() {
  const { t } = useTranslation();
  const overview = useQuotaOverview();
  const rows = [...(overview.data ?? [])].sort(
    (a, b) => a.cluster.name.localeCompare(b.cluster.name) || a.workspace.name.localeCompare(b.workspace.name),
  );
  return (
    <section className="page page-wide" data-testid="quotas-page">
      <header className="page-header">
        <h1>{t('workspaces.quotas.title')}</h1>
        <p className="muted">{t('workspaces.quotas.intro')}</p>
      </header>
      <section className="card">
        {overview.isPending && <Loading />}
        {overview.isError && <ErrorState error={overview.error} onRetry={() => void overview.refetch()} />}
        {overview.data && rows.length === 0 && (
          <p className="muted empty-line" data-testid="quotas-empty">
            {t('workspaces.quotas.empty')}
          </p>
        )}
        {rows.length > 0 && (
          <div className="table-wrap">
            <p className="small muted">{t('workspaces.allocation.legend')}</p>
            <table className="table table-dense" data-testid="quotas-table">
              <thead>
                <tr>
                  <th scope="col">{t('workspaces.field.cluster')}</th>
                  <th scope="col">{t('workspaces.servicemap.workspace')}</th>
                  <th scope="col">{t('workspaces.quotas.use')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={`${r.cluster.id}-${r.workspace.id}`} data-testid={`quota-row-${r.cluster.name}-${r.workspace.name}`}>
                    <td>
                      <Link to={`/clusters/${r.cluster.id}`}>{r.cluster.display_name || r.cluster.name}</Link>
                    </td>
                    <td>
                      <Link to={`/workspaces/${r.workspace.id}`}>{r.workspace.name}</Link>
                    </td>
                    <td className="bars-cell">
                      <QuotaBars keys={orderedKeys(r.quota)} total={r.quota} used={r.used} shared={r.shared} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  );
}
