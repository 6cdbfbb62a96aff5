/**
 * The recent log of a pod's container: `GET /api/clusters/{id}/pods/{namespace}/{name}/log/`
 * (docs/clusters-api.md "Pod logs"; grant `pods.logs`). Not in openapi.json yet, so it goes
 * through `request` with the hand-written `PodLog` below; when src/api/schema.ts is regenerated,
 * derive the type from `paths` as src/api/types.ts does and drop the copy.
 */
import { request } from '../api/request';

/** The server's answer (clusters/api/logs.py PodLogSerializer). */
export interface PodLog {
  pod: string;
  /** The container read: the one asked for, else the pod's default container. */
  container: string;
  /** Every container of the pod (init and ephemeral ones last), to choose from. */
  containers: string[];
  /** Oldest first. */
  lines: string[];
  /** The answer was cut at the byte limit: the newest lines are missing. */
  truncated: boolean;
  /** The lines are those of the last terminated run. */
  previous: boolean;
}

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
