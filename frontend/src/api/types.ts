/**
 * Resource types derived from the OpenAPI paths rather than from component
 * names, so regenerating schema.ts from the real drf-spectacular output keeps
 * compiling even if the generator names its components differently.
 */
import type { paths } from './schema';

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;

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

/** Shape of GET /readyz (a plain Django view, not part of the OpenAPI schema). */
export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}
export interface Readiness {
  status: 'ok' | 'fail';
  checks: Record<string, ReadinessCheck>;
}
