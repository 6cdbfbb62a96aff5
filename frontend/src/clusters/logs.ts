/**
 * The recent log of a pod's container: `GET /api/clusters/{id}/pods/{namespace}/{name}/log/`
 * (docs/clusters-api.md "Pod logs"; grant `pods.logs`), through `request` with its answer's type
 * derived from the generated paths as src/api/types.ts does.
 */
import { request } from '../api/request';
import type { paths } from '../api/schema';
import type { JsonOf } from '../api/types';

/** The server's answer (clusters/api/logs.py PodLogSerializer), from the generated schema. */
export type PodLog = JsonOf<paths['/api/clusters/{cluster_id}/pods/{namespace}/{name}/log/']['get']['responses'][200]>;

export interface PodLogOptions {
  /** '' lets the server choose the pod's default container. */
  container: string;
  tail: number;
  previous: boolean;
  timestamps: boolean;
  /** Only the lines of the last N seconds. */
  since?: number;
}

/** The server's bounds (clusters/api/logs.py). */
export const TAIL_CHOICES = [100, 500, 1000, 5000] as const;
export const TAIL_DEFAULT = 500;
export const LOG_LIMIT_TEXT = '2 MiB';

export const podLogKey = (clusterId: number, namespace: string, pod: string, options: PodLogOptions) =>
  ['clusters', clusterId, 'podLog', namespace, pod, options] as const;

const seg = encodeURIComponent;

export const logsApi = {
  read: (clusterId: number, namespace: string, pod: string, options: PodLogOptions, signal?: AbortSignal) =>
    request<PodLog>('GET', `/api/clusters/${clusterId}/pods/${seg(namespace)}/${seg(pod)}/log/`, {
      query: {
        container: options.container || undefined,
        tail: options.tail,
        since: options.since,
        previous: options.previous ? 'true' : undefined,
        timestamps: options.timestamps ? 'true' : undefined,
      },
      signal,
    }),
};

/** The file a downloaded log is saved as: `<pod>-<container>[-previous].log`. */
export function logFileName(pod: string, container: string, previous: boolean): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe(pod)}-${safe(container || 'log')}${previous ? '-previous' : ''}.log`;
}
