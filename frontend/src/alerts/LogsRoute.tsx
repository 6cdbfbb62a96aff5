/** The log viewer of a pod or a workload (its own chunk). Owned by the console helper of issue 14. */
import { NotFound } from '../pages/NotFound';

export function LogsRoute() {
  return <NotFound />;
}
