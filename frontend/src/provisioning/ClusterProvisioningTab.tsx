/**
 * The "Provisioning" tab of the cluster page (/clusters/:id/provisioning), for clusters the portal
 * provisioned: from which management cluster and template, its phase and progress, and a link to
 * the provisioned cluster's page (pools, upgrade, delete). Only those who see provisioning
 * (admins, operators, auditors) ask; for everyone else the tab is not there.
 */
import { useTranslation } from 'react-i18next';
import { Link, NavLink } from 'react-router-dom';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { ProgressSummary, ProviderName, ProvisionedPhaseBadge } from './common';
import { PROVISIONING_TAB } from './clusterTab';
import { useProvisionedClusters, useProvisioningAccess } from './queries';

/** The provisioned row of a registered cluster (GET /api/provisioning/clusters/?cluster=<id>), if any. */
export function useProvisionedFor(clusterId: number) {
  const access = useProvisioningAccess();
  const query = useProvisionedClusters({ cluster: clusterId }, access.sees && Number.isInteger(clusterId));
  return { ...query, row: query.data?.find((r) => r.cluster === clusterId) ?? query.data?.[0] ?? null };
}

/** The tab's link, shown only when the cluster was provisioned (or the tab is open). */
export function ProvisioningTabLink({ clusterId, active }: { clusterId: number; active: boolean }) {
  const { t } = useTranslation();
  const { row } = useProvisionedFor(clusterId);
  if (!row && !active) return null;
  return (
    <NavLink
      to={`/clusters/${clusterId}/${PROVISIONING_TAB}`}
      className={() => (active ? 'tab active' : 'tab')}
      aria-current={active ? 'page' : undefined}
      data-testid={`tab-${PROVISIONING_TAB}`}
    >
      {t('provisioning.tab.label')}
    </NavLink>
  );
}

export function ClusterProvisioningTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const provisioned = useProvisionedFor(clusterId);
  if (provisioned.isPending && provisioned.fetchStatus !== 'idle') return <Loading />;
  if (provisioned.isError) return <ErrorState error={provisioned.error} onRetry={() => void provisioned.refetch()} />;
  const x = provisioned.row;
  if (!x) return <p className="muted">{t('provisioning.tab.notProvisioned')}</p>;
  return (
    <div className="form-stack" data-testid="cluster-provisioning" data-phase={x.phase}>
      <p>
        <ProvisionedPhaseBadge phase={x.phase} />{' '}
        {t('provisioning.tab.summary', { management: x.management_cluster, template: x.template_name, version: x.template_version })} (<ProviderName provider={x.provider} />)
      </p>
      <ProgressSummary progress={x.progress} />
      <p>
        <Link to={`/provisioning/clusters/${x.id}`} className="btn btn-small" data-testid="open-provisioned">
          {t('provisioning.tab.open')}
        </Link>
      </p>
    </div>
  );
}
