/** /provisioning — provisioned clusters with their phase and progress; "New cluster…" for admins. */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { ProviderName, ProvisionedPhaseBadge, SectionTabs, When } from './common';
import { useProvisioningLive } from './live';
import { useProvisionedClusters, useProvisioningAccess } from './queries';

export function ClustersList() {
  const { t } = useTranslation();
  const access = useProvisioningAccess();
  const list = useProvisionedClusters({});
  useProvisioningLive();
  const rows = list.data ?? [];
  return (
    <section className="page page-wide" data-testid="provisioning-page">
      <header className="page-header page-header-row">
        <h1>{t('provisioning.title')}</h1>
        {access.isAdmin && (
          <Link to="/provisioning/new" className="btn btn-primary" data-testid="new-provisioned">
            {t('provisioning.clusters.new')}
          </Link>
        )}
      </header>
      <SectionTabs />
      {list.isPending && <Loading />}
      {list.isError && <ErrorState error={list.error} onRetry={() => void list.refetch()} />}
      {list.data && rows.length === 0 && (
        <EmptyState title={t('provisioning.clusters.empty')} testId="provisioned-empty">
          {access.isAdmin && <p className="muted">{t('provisioning.clusters.emptyAdmin')}</p>}
        </EmptyState>
      )}
      {rows.length > 0 && (
        <div className="card table-scroll">
          <table className="table" data-testid="provisioned-table">
            <caption className="visually-hidden">{t('provisioning.sections.clusters')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('provisioning.col.name')}</th>
                <th scope="col">{t('provisioning.col.phase')}</th>
                <th scope="col">{t('provisioning.col.machines')}</th>
                <th scope="col">{t('provisioning.col.version')}</th>
                <th scope="col">{t('provisioning.col.template')}</th>
                <th scope="col">{t('provisioning.col.management')}</th>
                <th scope="col">{t('provisioning.col.created')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((x) => (
                <tr key={x.id} data-testid={`provisioned-${x.name}`} data-phase={x.phase}>
                  <th scope="row">
                    <Link to={`/provisioning/clusters/${x.id}`}>{x.display_name || x.name}</Link>
                  </th>
                  <td>
                    <ProvisionedPhaseBadge phase={x.phase} />
                  </td>
                  <td data-testid="provisioned-machines">
                    {t('provisioning.clusters.machinesOf', { running: x.progress.machines_running ?? 0, total: x.progress.machines_total ?? 0 })}
                  </td>
                  <td className="mono small">{x.progress.control_plane?.version || x.kubernetes_version || '—'}</td>
                  <td>
                    {x.template_name} v{x.template_version} <span className="small muted">(<ProviderName provider={x.provider} />)</span>
                  </td>
                  <td>{x.management_cluster}</td>
                  <td className="small">
                    <When iso={x.created} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
