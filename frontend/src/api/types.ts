/**
 * Resource types derived from the OpenAPI paths rather than from component
 * names, so regenerating schema.ts from the real drf-spectacular output keeps
 * compiling even if the generator names its components differently.
 */
import type { paths } from './schema';

export type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;

export type User = JsonOf<paths['/api/auth/me/']['get']['responses'][200]>;
export type Role = User['role'];

export type TokenPage = JsonOf<paths['/api/auth/tokens/']['get']['responses'][200]>;
export type ApiToken = TokenPage['results'][number];
export type ApiTokenCreated = JsonOf<paths['/api/auth/tokens/']['post']['responses'][201]>;
export type ApiTokenCreateBody = NonNullable<
  paths['/api/auth/tokens/']['post']['requestBody']
>['content']['application/json'];

export type AuditPage = JsonOf<paths['/api/audit/']['get']['responses'][200]>;
export type AuditRecord = AuditPage['results'][number];
export type AuditQuery = NonNullable<paths['/api/audit/']['get']['parameters']['query']>;
export type Outcome = AuditRecord['outcome'];

export type UsersPage = JsonOf<paths['/api/users/']['get']['responses'][200]>;
export type AdminUser = UsersPage['results'][number];
export type UsersQuery = NonNullable<paths['/api/users/']['get']['parameters']['query']>;
export type UserCreateBody = NonNullable<paths['/api/users/']['post']['requestBody']>['content']['application/json'];
export type UserPatchBody = NonNullable<
  paths['/api/users/{id}/']['patch']['requestBody']
>['content']['application/json'];
export type ChangePasswordBody = NonNullable<
  paths['/api/auth/password/']['post']['requestBody']
>['content']['application/json'];

type BodyOf<Op> = Op extends { requestBody?: { content: { 'application/json': infer T } } } ? T : never;

// Clusters (docs/clusters-api.md). JSON fields such as an inventory row's `data` are untyped in
// OpenAPI; src/clusters/types.ts types them per kind.
export type ClusterPage = JsonOf<paths['/api/clusters/']['get']['responses'][200]>;
export type Cluster = ClusterPage['results'][number];
export type ClusterListQuery = NonNullable<paths['/api/clusters/']['get']['parameters']['query']>;
export type ClusterDetail = JsonOf<paths['/api/clusters/{id}/']['get']['responses'][200]>;
export type KindSync = ClusterDetail['syncs'][number];
export type ClusterSummary = Cluster['summary'];
export type ClusterStatus = Cluster['status'];
export type Provider = Cluster['provider'];
export type Stage = Cluster['stage'];
export type Freshness = Cluster['freshness'];
export type ClusterOrderingParam = NonNullable<ClusterListQuery['ordering']>;
export type RegisterBody = BodyOf<paths['/api/clusters/']['post']>;
export type ConnectionBody = BodyOf<paths['/api/clusters/{id}/credentials/']['post']>;
export type ClusterPatch = BodyOf<paths['/api/clusters/{id}/']['patch']>;
export type KubeconfigContexts = JsonOf<paths['/api/clusters/kubeconfig-contexts/']['post']['responses'][200]>;
export type KubeObjectPage = JsonOf<paths['/api/clusters/{cluster_id}/pods/']['get']['responses'][200]>;
export type KubeObject = KubeObjectPage['results'][number];
export type NodePage = JsonOf<paths['/api/clusters/{cluster_id}/nodes/']['get']['responses'][200]>;
export type NodeObject = NodePage['results'][number];
export type PodObjectDetail = JsonOf<paths['/api/clusters/{cluster_id}/pods/{namespace}/{name}/']['get']['responses'][200]>;
export type NodeOperation = JsonOf<paths['/api/clusters/{cluster_id}/nodes/{name}/cordon/']['post']['responses'][202]>;
export type SearchPage = JsonOf<paths['/api/clusters/search/']['get']['responses'][200]>;
export type SearchResult = SearchPage['results'][number];
export type SearchQuery = NonNullable<paths['/api/clusters/search/']['get']['parameters']['query']>;

/** Shape of GET /readyz (a plain Django view, not part of the OpenAPI schema). */
export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}
export interface Readiness {
  status: 'ok' | 'fail';
  checks: Record<string, ReadinessCheck>;
}

// Workspaces (docs/workspaces-api.md). Quota maps are `{key: quantity}`; src/workspaces/types.ts
// re-exports these for the workspaces pages.
export type WorkspacePage = JsonOf<paths['/api/workspaces/']['get']['responses'][200]>;
export type Workspace = WorkspacePage['results'][number];
export type WorkspaceListQuery = NonNullable<paths['/api/workspaces/']['get']['parameters']['query']>;
export type WorkspaceCreateBody = BodyOf<paths['/api/workspaces/']['post']>;
export type WorkspacePatchBody = BodyOf<paths['/api/workspaces/{id}/']['patch']>;
export type QuotaUse = Workspace['quota_use'][number];
export type MemberPage = JsonOf<paths['/api/workspaces/{workspace_id}/members/']['get']['responses'][200]>;
export type Member = MemberPage['results'][number];
export type MemberCandidate = JsonOf<paths['/api/workspaces/{workspace_id}/members/candidates/']['get']['responses'][200]>[number];
export type MemberCreateBody = BodyOf<paths['/api/workspaces/{workspace_id}/members/']['post']>;
export type Allocation = JsonOf<paths['/api/workspaces/{workspace_id}/allocations/']['get']['responses'][200]>[number];
export type AllocationCreateBody = BodyOf<paths['/api/workspaces/{workspace_id}/allocations/']['post']>;
export type AllocationPatchBody = BodyOf<paths['/api/workspaces/{workspace_id}/allocations/{id}/']['patch']>;
export type ApplyStatus = Allocation['status'];
export type ClusterRef = Allocation['cluster'];
export type RegistryAllocation = JsonOf<paths['/api/workspaces/{workspace_id}/registries/']['get']['responses'][200]>[number];
export type RegistryCreateBody = BodyOf<paths['/api/workspaces/{workspace_id}/registries/']['post']>;
export type ServiceMapPage = JsonOf<paths['/api/workspaces/servicemaps/']['get']['responses'][200]>;
export type ServiceMap = ServiceMapPage['results'][number];
export type ServiceMapListQuery = NonNullable<paths['/api/workspaces/servicemaps/']['get']['parameters']['query']>;
export type ServiceMapCreateBody = BodyOf<paths['/api/workspaces/{workspace_id}/servicemaps/']['post']>;
export type ServiceMapPatchBody = BodyOf<paths['/api/workspaces/{workspace_id}/servicemaps/{id}/']['patch']>;
export type QuotaOverviewRow = JsonOf<paths['/api/workspaces/quota-overview/']['get']['responses'][200]>[number];
export type WorkspaceRole = JsonOf<paths['/api/workspaces/roles/']['get']['responses'][200]>[number];
export type GrantInfo = JsonOf<paths['/api/workspaces/roles/grants/']['get']['responses'][200]>[number];
export type RoleCreateBody = BodyOf<paths['/api/workspaces/roles/']['post']>;
export type RolePatchBody = BodyOf<paths['/api/workspaces/roles/{id}/']['patch']>;
