/** Links to a pod's page; a module of its own so the Shell's search does not load the pods table. */
export function podPath(clusterId: number, row: { namespace: string; name: string }): string {
  return `/clusters/${clusterId}/pods/${encodeURIComponent(row.namespace)}/${encodeURIComponent(row.name)}`;
}

/** Anchors of the pod page's panels (PodDetailPage.tsx), for links from the rows' menus. */
export const POD_LOGS_ANCHOR = 'pod-logs';
export const POD_TERMINAL_ANCHOR = 'pod-terminal';
