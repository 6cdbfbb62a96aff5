/** The builds section's routes (its own chunk). */
import { Route, Routes } from 'react-router-dom';
import { NotAvailable } from '../pages/NotAvailable';

export function BuildsRoutes() {
  return (
    <Routes>
      <Route index element={<NotAvailable section="builds" />} />
    </Routes>
  );
}
