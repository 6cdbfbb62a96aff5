/** Dashboard card: the fleet at a glance, computed from the cluster list (kept live by `fleet`). */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { useFleetLive } from './live';
import { useClusters } from './queries';
import { CLUSTER_STATUSES, type Cluster, type ClusterStatus } from './types';

export function fleetSummary(clusters: Cluster[]) {
  const byStatus = Object.fromEntries(CLUSTER_STATUSES.map((s) => [s, 0])) as Record<ClusterStatus, number>;
  let nodesReady = 0;
  let nodesTotal = 0;
  let podsRunning = 0;
  let podsTotal = 0;
  for (const c of clusters) {
    byStatus[c.status] = (byStatus[c.status] ?? 0) + 1;
    nodesReady += c.summary?.nodes_ready ?? 0;
    nodesTotal += c.summary?.nodes_total ?? 0;
    podsRunning += c.summary?.pods?.running ?? 0;
    podsTotal += c.summary?.pods?.total ?? 0;
  }
  return { total: clusters.length, byStatus, nodesReady, nodesTotal, podsRunning, podsTotal };
}

export const FLEET_QUERY = { page_size: 500 } as const;

export function FleetCard() {
  const { t } = useTranslation();
  const clusters = useClusters(FLEET_QUERY);
  useFleetLive();
  const s = clusters.data ? fleetSummary(clusters.data.results) : null;
  return (
    <section className="card" aria-labelledby="fleet-title" data-testid="fleet-card">
      <h2 id="fleet-title" className="card-title">
        <Link to="/clusters">{t('fleet.title')}</Link>
      </h2>
      {clusters.isPending && <Loading />}
      {clusters.isError && <ErrorState error={clusters.error} onRetry={() => void clusters.refetch()} />}
      {s && s.total === 0 && <p className="muted">{t('fleet.empty')}</p>}
      {s && s.total > 0 && (
        <>
          <div className="fleet-figures">
            <div data-testid="fleet-clusters">
              <strong>{s.total}</strong>
              <span>{t('fleet.clusters')}</span>
            </div>
            <div data-testid="fleet-nodes">
              <strong>
                {s.nodesReady}/{s.nodesTotal}
              </strong>
              <span>{t('fleet.nodesReady')}</span>
            </div>
            <div data-testid="fleet-pods">
              <strong>
                {s.podsRunning}/{s.podsTotal}
              </strong>
              <span>{t('fleet.podsRunning')}</span>
            </div>
          </div>
          <ul className="status-counts">
            {CLUSTER_STATUSES.filter((st) => s.byStatus[st] > 0).map((st) => (
              <li key={st} data-testid={`fleet-status-${st}`}>
                <Link to={`/clusters?status=${st}`}>
                  <span className={`badge status-${st}`}>{t(`clusters.status.${st}`)}</span> {s.byStatus[st]}
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
