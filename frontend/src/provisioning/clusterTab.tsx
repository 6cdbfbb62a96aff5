/**
 * The cluster page's hooks into provisioning (/clusters/:id/provisioning): the tab's link and
 * panel, downloaded with the provisioning strings only when someone who sees provisioning
 * (admins, operators, auditors) opens a cluster page, so the cluster page itself does not grow.
 * The link shows only for clusters the portal provisioned (ClusterProvisioningTab.tsx).
 */
import { lazy, Suspense } from 'react';
import { useMe } from '../auth/queries';
import { Loading } from '../components/Loading';
import { loadSections } from '../i18n';

export const PROVISIONING_TAB = 'provisioning';

let pending: Promise<typeof import('./ClusterProvisioningTab')> | null = null;
function load() {
  pending ??= Promise.all([import('./ClusterProvisioningTab'), loadSections(['provisioning']).catch(() => undefined)]).then(([m]) => m);
  pending.catch(() => {
    pending = null;
  });
  return pending;
}

const LazyLink = lazy(() => load().then((m) => ({ default: m.ProvisioningTabLink })));
const LazyPanel = lazy(() => load().then((m) => ({ default: m.ClusterProvisioningTab })));

export function ProvisioningTabLink({ clusterId, active }: { clusterId: number; active: boolean }) {
  const me = useMe();
  const role = me.data?.role;
  const sees = me.data?.is_admin === true || role === 'admin' || role === 'operator' || role === 'auditor';
  if (!sees && !active) return null;
  return (
    <Suspense fallback={null}>
      <LazyLink clusterId={clusterId} active={active} />
    </Suspense>
  );
}

export function ProvisioningTabPanel({ clusterId }: { clusterId: number }) {
  return (
    <Suspense fallback={<Loading />}>
      <LazyPanel clusterId={clusterId} />
    </Suspense>
  );
}
