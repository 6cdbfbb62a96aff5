/**
 * The monitoring section's routes (its own chunk, loaded when /monitoring is first opened):
 *   /monitoring                                                  overview: fleet or the member's workspaces
 *   /monitoring/clusters/:id                                     a cluster (nodes, top-N)
 *   /monitoring/clusters/:id/nodes/:node                         a node
 *   /monitoring/clusters/:id/workloads/:namespace/:kind/:name    a workload
 *   /monitoring/clusters/:id/pods/:namespace/:name               a pod (?container= one container)
 *   /monitoring/workspaces/:id                                   a workspace
 *   /monitoring/servicemaps/:id                                  a service map
 *   /monitoring/events                                           events
 *   /monitoring/metering                                         the monthly metering report
 *   /monitoring/prices                                           price sheets (admins edit)
 */
import { Route, Routes } from 'react-router-dom';
import { NotFound } from '../pages/NotFound';
import { EventsPage } from './EventsPage';
import { MeteringPage } from './MeteringPage';
import { OverviewPage } from './OverviewPage';
import { PricesPage } from './PricesPage';
import {
  ClusterChartsPage,
  NodeChartsPage,
  PodChartsPage,
  ServiceMapChartsPage,
  WorkloadChartsPage,
  WorkspaceChartsPage,
} from './ScopePages';

export function MonitoringRoutes() {
  return (
    <Routes>
      <Route index element={<OverviewPage />} />
      <Route path="clusters/:id" element={<ClusterChartsPage />} />
      <Route path="clusters/:id/nodes/:node" element={<NodeChartsPage />} />
      <Route path="clusters/:id/workloads/:namespace/:kind/:name" element={<WorkloadChartsPage />} />
      <Route path="clusters/:id/pods/:namespace/:name" element={<PodChartsPage />} />
      <Route path="workspaces/:id" element={<WorkspaceChartsPage />} />
      <Route path="servicemaps/:id" element={<ServiceMapChartsPage />} />
      <Route path="events" element={<EventsPage />} />
      <Route path="metering" element={<MeteringPage />} />
      <Route path="prices" element={<PricesPage />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}
