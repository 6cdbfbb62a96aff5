/**
 * Calls to the catalog and deploy API (docs/catalog-api.md), typed by the generated schema.
 * Path ids are strings as drf-spectacular names them; the chart upload is multipart, so it goes
 * through `portalFetch` (CSRF, 401) instead of openapi-fetch's JSON body.
 */
import { api, portalFetch, unwrap } from '../api/client';
import { toApiError } from '../api/errors';
import { request } from '../api/request';
import { settle, type Intent } from './intents';
import type {
  Drift,
  Package,
  PackageDetail,
  PackageQuery,
  Page,
  Plan,
  PlanBody,
  Release,
  ReleaseCreateBody,
  ReleaseDetail,
  ReleaseQuery,
  RenderResult,
  RevisionDetail,
  Rollout,
  RolloutCreateBody,
  Source,
  SourceCreateBody,
  SourceQuery,
  Values,
  Version,
} from './types';

const byId = (id: number) => ({ path: { id: String(id) } });

async function parseBody(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

export const catalogApi = {
  sources: async (query: SourceQuery, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/sources/', { params: { query: { page_size: 500, ...query } }, signal })) as Page<Source>,
  createSource: async (body: Partial<SourceCreateBody> & Pick<SourceCreateBody, 'name' | 'kind'>) =>
    unwrap(await api.POST('/api/catalog/sources/', { body: body as SourceCreateBody })),
  patchSource: async (id: number, body: { url?: string; username?: string; password?: string; ca_pem?: string; refresh_minutes?: number }) =>
    unwrap(await api.PATCH('/api/catalog/sources/{id}/', { params: byId(id), body })),
  removeSource: async (id: number): Promise<void> => {
    unwrap(await api.DELETE('/api/catalog/sources/{id}/', { params: byId(id) }));
  },
  refreshSource: async (id: number) => unwrap(await api.POST('/api/catalog/sources/{id}/refresh/', { params: byId(id) })),
  webhookToken: async (id: number) => unwrap(await api.POST('/api/catalog/sources/{id}/webhook-token/', { params: byId(id) })),
  uploadChart: async (id: number, file: File): Promise<Version> => {
    const form = new FormData();
    form.append('chart', file);
    const base = typeof window === 'undefined' ? '' : window.location.origin;
    const response = await portalFetch(
      new Request(`${base}/api/catalog/sources/${id}/charts/`, { method: 'POST', body: form, credentials: 'same-origin', headers: { Accept: 'application/json' } }),
    );
    const body = await parseBody(response);
    if (!response.ok) throw toApiError(response, body);
    return body as Version;
  },

  packages: async (query: PackageQuery, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/packages/', { params: { query: { page_size: 500, ...query } }, signal })) as unknown as Page<Package>,
  pkg: async (id: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/packages/{id}/', { params: byId(id), signal })) as unknown as PackageDetail,
  version: async (id: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/versions/{id}/', { params: byId(id), signal })) as unknown as Version,
  render: async (id: number, body: { values: Values; service_map: number }): Promise<RenderResult> =>
    unwrap(await api.POST('/api/catalog/versions/{id}/render/', { params: byId(id), body })),

  releases: async (query: ReleaseQuery, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/releases/', { params: { query: { page_size: 500, ...query } }, signal })) as Page<Release>,
  release: async (id: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/releases/{id}/', { params: byId(id), signal })) as unknown as ReleaseDetail,
  /** A plan is a cluster intent: resolves once the server's dry-run has run (202, then the intent). */
  plan: async (body: PlanBody): Promise<Plan> => settle<Plan>(unwrap(await api.POST('/api/catalog/releases/plan/', { body })) as unknown as Intent),
  createRelease: async (body: ReleaseCreateBody): Promise<Release> => unwrap(await api.POST('/api/catalog/releases/', { body })),
  upgrade: async (id: number, body: { package_version?: number; values?: Values; strategy?: object }): Promise<Release> =>
    unwrap(await api.POST('/api/catalog/releases/{id}/upgrade/', { params: byId(id), body })),
  rollback: async (id: number, revision: number): Promise<Release> =>
    unwrap(await api.POST('/api/catalog/releases/{id}/rollback/', { params: byId(id), body: { revision } })),
  removeRelease: async (id: number): Promise<Release> => unwrap(await api.DELETE('/api/catalog/releases/{id}/', { params: byId(id) })),
  revision: async (id: number, number: number, signal?: AbortSignal) =>
    unwrap(
      await api.GET('/api/catalog/releases/{id}/revisions/{number}/', { params: { path: { id: String(id), number } }, signal }),
    ) as unknown as RevisionDetail,
  diff: async (id: number, from: number, to: number, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/releases/{id}/diff/', { params: { path: { id: String(id) }, query: { from, to } }, signal })),
  /** A drift check is a cluster intent too: resolves once the server has compared with the cluster. */
  drift: async (id: number, signal?: AbortSignal): Promise<Drift> =>
    settle<Drift>(unwrap(await api.GET('/api/catalog/releases/{id}/drift/', { params: byId(id), signal })) as unknown as Intent, signal),

  rollouts: async (query: { workspace?: number }, signal?: AbortSignal) =>
    unwrap(await api.GET('/api/catalog/rollouts/', { params: { query: { page_size: 500, ...query } }, signal })) as Page<Rollout>,
  rollout: async (id: number, signal?: AbortSignal): Promise<Rollout> =>
    unwrap(await api.GET('/api/catalog/rollouts/{id}/', { params: byId(id), signal })),
  createRollout: async (body: RolloutCreateBody): Promise<Rollout> => unwrap(await api.POST('/api/catalog/rollouts/', { body })),
  cancelRollout: async (id: number): Promise<Rollout> => unwrap(await api.POST('/api/catalog/rollouts/{id}/cancel/', { params: byId(id) })),
  deleteRollout: (id: number): Promise<void> => request<void>('DELETE', `/api/catalog/rollouts/${id}/`),
};
