/**
 * The alerts section's routes (its own chunk, loaded when /alerts is first opened):
 *   /alerts              alerts with filters (AlertsList.tsx)
 *   /alerts/:id          one alert: acknowledge, silence, resolve, history, notifications
 *   /alerts/rules        built-in and custom rules (RulesPage.tsx)
 *   /alerts/silences     silences (SilencesPage.tsx)
 *   /alerts/channels     notification channels (ChannelsPage.tsx)
 * Every page stays live from `alert.updated` (AlertsLive).
 */
import { Route, Routes } from 'react-router-dom';
import { NotFound } from '../pages/NotFound';
import { AlertDetailPage } from './AlertDetail';
import { AlertsPage } from './AlertsList';
import { ChannelsPage } from './ChannelsPage';
import { AlertsLive } from './queries';
import { RulesPage } from './RulesPage';
import { SilencesPage } from './SilencesPage';

export function AlertsRoutes() {
  return (
    <>
      <AlertsLive />
      <Routes>
        <Route index element={<AlertsPage />} />
        <Route path="rules" element={<RulesPage />} />
        <Route path="silences" element={<SilencesPage />} />
        <Route path="channels" element={<ChannelsPage />} />
        <Route path=":id" element={<AlertDetailPage />} />
        <Route path="*" element={<NotFound />} />
      </Routes>
    </>
  );
}
