/**
 * Calls to the registries, images, scans, deploy-image and scan policy API (docs/registries.md,
 * docs/image-policy.md). The builds API is not in the generated schema yet, so these go through
 * `request` (same CSRF and 401 handling, same ApiError) with the shapes named in ./types.
 */
import { request } from '../api/request';
import type {
  AllocationBody,
  DefinitionDeployTarget,
  DeployImageBody,
  DeployImageResult,
  Registry,
  RegistryAllocationRow,
  RegistryBody,
  Repositories,
  Scan,
  ScanException,
  ScanExceptionBody,
  ScanPolicy,
  ScanPolicyBody,
  Tags,
} from './types';

const BASE = '/api/builds';

/** A small list may come as a plain array or as a page (`{results}`); the console takes either. */
function rows<T>(body: T[] | { results: T[] }): T[] {
  return Array.isArray(body) ? body : body.results;
}

export const registriesApi = {
  list: async (signal?: AbortSignal): Promise<Registry[]> =>
    rows(await request<Registry[] | { results: Registry[] }>('GET', `${BASE}/registries/`, { query: { page_size: 500 }, signal })),
  get: (id: number, signal?: AbortSignal) => request<Registry>('GET', `${BASE}/registries/${id}/`, { signal }),
  create: (body: RegistryBody) => request<Registry>('POST', `${BASE}/registries/`, { body }),
  patch: (id: number, body: RegistryBody) => request<Registry>('PATCH', `${BASE}/registries/${id}/`, { body }),
  remove: (id: number) => request<void>('DELETE', `${BASE}/registries/${id}/`),
  check: (id: number) => request<Registry>('POST', `${BASE}/registries/${id}/check/`),
  allocate: (id: number, body: AllocationBody) =>
    request<RegistryAllocationRow>('POST', `${BASE}/registries/${id}/allocations/`, { body }),
  deallocate: (id: number, allocation: number) =>
    request<void>('DELETE', `${BASE}/registries/${id}/allocations/${allocation}/`),
  repositories: (id: number, search: string, signal?: AbortSignal) =>
    request<Repositories>('GET', `${BASE}/registries/${id}/repositories/`, { query: { search }, signal }),
  tags: (id: number, repository: string, signal?: AbortSignal) =>
    request<Tags>('GET', `${BASE}/registries/${id}/tags/`, { query: { repository }, signal }),
  deleteTag: (id: number, repository: string, tag: string) =>
    request<void>('DELETE', `${BASE}/registries/${id}/tags/`, { query: { repository, tag } }),

  scan: (registry: number, repository: string, digest: string, signal?: AbortSignal) =>
    request<Scan>('GET', `${BASE}/scans/`, { query: { registry, repository, digest }, signal }),
  /** A workspace's build definitions (the first page is plenty to find those deploying to a release). */
  definitions: async (workspace: number, signal?: AbortSignal): Promise<DefinitionDeployTarget[]> =>
    rows(
      await request<DefinitionDeployTarget[] | { results: DefinitionDeployTarget[] }>('GET', `${BASE}/definitions/`, {
        query: { workspace, page_size: 200 },
        signal,
      }),
    ),
  deployImage: (body: DeployImageBody) => request<DeployImageResult>('POST', `${BASE}/deploy-image/`, { body }),

  policy: (workspace: number, signal?: AbortSignal) =>
    request<ScanPolicy>('GET', `${BASE}/scan-policies/${workspace}/`, { signal }),
  putPolicy: (workspace: number, body: ScanPolicyBody) =>
    request<ScanPolicy>('PUT', `${BASE}/scan-policies/${workspace}/`, { body }),
  addException: (workspace: number, body: ScanExceptionBody) =>
    request<ScanException>('POST', `${BASE}/scan-policies/${workspace}/exceptions/`, { body }),
  removeException: (workspace: number, id: number) =>
    request<void>('DELETE', `${BASE}/scan-policies/${workspace}/exceptions/${id}/`),
};
