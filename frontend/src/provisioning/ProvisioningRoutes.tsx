/**
 * The provisioning section's routes (its own chunk; admins, operators and auditors):
 *   /provisioning                       provisioned clusters (ClustersList.tsx)
 *   /provisioning/new                   the wizard (admins; ProvisionWizard.tsx)
 *   /provisioning/clusters/:id          one provisioned cluster (ProvisionedPage.tsx)
 *   /provisioning/management            management clusters (ManagementPage.tsx)
 *   /provisioning/templates[/:id]       cluster templates (TemplatesPage.tsx)
 */
import type { ReactElement } from 'react';
import { Route, Routes, useParams } from 'react-router-dom';
import { NotFound } from '../pages/NotFound';
import { ClustersList } from './ClustersList';
import { ManagementPage } from './ManagementPage';
import { ProvisionedPage } from './ProvisionedPage';
import { ProvisionWizard } from './ProvisionWizard';
import { TemplatePage, TemplatesPage } from './TemplatesPage';
import './provisioning.css';

/** A fresh page (dialogs, state) per cluster or template. */
function Keyed({ children }: { children: (id: string) => ReactElement }) {
  const { id } = useParams();
  return children(id ?? '');
}

export function ProvisioningRoutes() {
  return (
    <Routes>
      <Route index element={<ClustersList />} />
      <Route path="new" element={<ProvisionWizard />} />
      <Route path="clusters/:id" element={<Keyed>{(id) => <ProvisionedPage key={id} />}</Keyed>} />
      <Route path="management" element={<ManagementPage />} />
      <Route path="templates" element={<TemplatesPage />} />
      <Route path="templates/:id" element={<Keyed>{(id) => <TemplatePage key={id} />}</Keyed>} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}
