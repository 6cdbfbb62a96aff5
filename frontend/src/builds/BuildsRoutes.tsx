/**
 * The builds section's routes (its own chunk, loaded when /builds is first opened):
 *   /builds                        definitions with their last run (BuildsList.tsx)
 *   /builds/new                    a new definition (DefinitionEditor.tsx)
 *   /builds/definitions/:id        edit a definition, run it, its history
 *   /builds/runs/:id               one run: steps and live logs (RunPage.tsx)
 */
import { Route, Routes, useParams } from 'react-router-dom';
import { NotFound } from '../pages/NotFound';
import { BuildsPage } from './BuildsList';
import { EditDefinitionPage, NewDefinitionPage } from './DefinitionEditor';
import { RunPage } from './RunPage';

/** A run page per run: Rebuild moves to the new run's page with fresh state (open logs, buffers). */
function RunRoute() {
  const { id } = useParams();
  return <RunPage key={id} />;
}

export function BuildsRoutes() {
  return (
    <Routes>
      <Route index element={<BuildsPage />} />
      <Route path="new" element={<NewDefinitionPage />} />
      <Route path="definitions/:id" element={<EditDefinitionPage />} />
      <Route path="runs/:id" element={<RunRoute />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}
