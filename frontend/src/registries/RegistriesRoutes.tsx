/** The registries section's routes (its own chunk). */
import { Route, Routes } from 'react-router-dom';
import { NotAvailable } from '../pages/NotAvailable';

export function RegistriesRoutes() {
  return (
    <Routes>
      <Route index element={<NotAvailable section="registries" />} />
    </Routes>
  );
}
