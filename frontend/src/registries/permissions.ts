/**
 * What the caller may do with a repository's images, worked out as builds/access.py decides it, so
 * the console hides what the API would refuse (the API still checks):
 * - delete a tag: the registry allows deletes, and the caller is an admin or holds `builds.run` in
 *   a workspace whose registry allocation (`host[/prefix]`) contains the repository;
 * - deploy an image: into releases of the workspaces where the caller holds `workloads.deploy`.
 */
import { useQueries } from '@tanstack/react-query';
import { useMe } from '../auth/queries';
import { rowsOf, workspacesApi } from '../workspaces/api';
import { registriesKey, useWorkspaces } from '../workspaces/queries';
import type { RegistryAllocation, Workspace } from '../workspaces/types';
import type { Registry } from './types';

/** The repository prefix an allocation gives inside the registry at `host`: '' = all of it, null = another registry. */
export function allocationPrefix(allocation: string, host: string): string | null {
  const a = allocation.trim().toLowerCase().replace(/\/+$/, '');
  const h = host.trim().toLowerCase();
  if (a === h) return '';
  if (a.startsWith(`${h}/`)) return a.slice(h.length + 1);
  return null;
}

export function underPrefix(repository: string, prefix: string): boolean {
  return prefix === '' || repository === prefix || repository.startsWith(`${prefix}/`);
}

export function holds(allocations: RegistryAllocation[], host: string, repository: string): boolean {
  return allocations.some((a) => {
    const prefix = allocationPrefix(a.registry, host);
    return prefix !== null && underPrefix(repository, prefix);
  });
}

export function useImagePermissions(registry: Registry | undefined, repository: string) {
  const me = useMe();
  const isAdmin = me.data?.is_admin === true;
  const workspaces = useWorkspaces({ page_size: 500 });
  const all: Workspace[] = workspaces.data?.results ?? [];
  const runners = isAdmin ? [] : all.filter((w) => w.my_grants.includes('builds.run'));
  const allocations = useQueries({
    queries: runners.map((w) => ({
      queryKey: registriesKey(w.id),
      queryFn: async ({ signal }: { signal: AbortSignal }) => rowsOf<RegistryAllocation>(await workspacesApi.registries(w.id, signal)),
    })),
  });
  const runsHere =
    isAdmin || (registry !== undefined && allocations.some((q) => q.data !== undefined && holds(q.data, registry.host, repository)));
  const deployWorkspaces = all.filter((w) => isAdmin || w.my_grants.includes('workloads.deploy'));
  return {
    isAdmin,
    deleteTag: registry?.allow_delete === true && runsHere,
    deployWorkspaces,
  };
}
