/** The monitoring section's routes (its own chunk). Owned by the console helper of issue 14. */
import { Route, Routes } from 'react-router-dom';
import { NotFound } from '../pages/NotFound';

export function MonitoringRoutes() {
  return (
    <Routes>
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}
