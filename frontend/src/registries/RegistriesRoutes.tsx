/** The registries section's routes (its own chunk): the list, the scan policy, a registry's
 *  repositories and a repository's tags (repository names contain `/`: the splat is the name). */
import { Route, Routes } from 'react-router-dom';
import { NotFound } from '../pages/NotFound';
import { PolicyPage } from './PolicyPage';
import { RegistriesPage } from './RegistriesPage';
import { RegistryPage } from './RegistryPage';
import { RepositoryPage } from './RepositoryPage';

export function RegistriesRoutes() {
  return (
    <Routes>
      <Route index element={<RegistriesPage />} />
      <Route path="policy" element={<PolicyPage />} />
      <Route path=":id" element={<RegistryPage />} />
      <Route path=":id/repositories/*" element={<RepositoryPage />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}
