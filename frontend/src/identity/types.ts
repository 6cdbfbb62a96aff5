/**
 * Shapes of the single sign-on API (docs/sso.md). The endpoints are not in the generated
 * schema yet, so they are named here and called through `request`; when openapi.json has them,
 * derive these from `paths` (src/api/types.ts) and move the calls to `api`.
 */
import type { Role } from '../api/types';

export type ProviderKind = 'oidc' | 'ldap';
export const PROVIDER_KINDS: readonly ProviderKind[] = ['oidc', 'ldap'];

/** GET /api/auth/providers/: an enabled provider as the login page sees it. */
export interface LoginProvider {
  name: string;
  display_name: string;
  kind: ProviderKind;
}

/** Non-secret settings; the keys depend on the kind (docs/sso.md). */
export type ProviderConfig = Record<string, unknown>;

/** /api/identity/providers/: the secret is never returned, only whether one is stored. */
export interface IdentityProvider {
  id: number;
  name: string;
  display_name: string;
  kind: ProviderKind;
  enabled: boolean;
  config: ProviderConfig;
  has_secret: boolean;
  /** How many people have signed in through it. */
  identities?: number;
  created?: string;
  updated?: string;
}

/**
 * Create / edit body. `secret` is write-only: absent means "unchanged", a string sets it, ""
 * clears it.
 */
export interface ProviderBody {
  name?: string;
  display_name?: string;
  kind?: ProviderKind;
  enabled?: boolean;
  config?: ProviderConfig;
  secret?: string;
}

/** POST /api/identity/providers/{id}/test/: whether it answered, and what it found. */
export interface ConnectionTest {
  ok: boolean;
  kind?: string;
  code?: string | null;
  message?: string | null;
  params?: Record<string, unknown> | null;
  details?: Record<string, unknown> | null;
  [found: string]: unknown;
}

/** /api/identity/mappings/: a group → a system role, or → a role in a workspace. */
export interface GroupMapping {
  id: number;
  provider: number;
  provider_name?: string;
  group: string;
  system_role: Role | '' | null;
  workspace: number | null;
  workspace_name?: string | null;
  /** The workspace role's key. */
  role: string | null;
  created?: string;
}

export interface MappingBody {
  provider: number;
  group: string;
  system_role?: Role | '';
  workspace?: number | null;
  /** The workspace role's key. */
  role?: string | null;
}

/** A rule as the preview takes it (a mapping without its provider). */
export type MappingRule = Omit<MappingBody, 'provider'>;

/** What the mappings would give one known identity of the provider. */
export interface PreviewWorkspaceRole {
  workspace: number;
  workspace_name?: string | null;
  /** The workspace role's key. */
  role: string;
}
export interface PreviewUser {
  user_id?: number | null;
  username: string;
  groups?: string[];
  system_role?: Role | '' | null;
  workspaces?: PreviewWorkspaceRole[];
}
/** POST /api/identity/mappings/preview/ answers rows (a list, or under `results`/`users`). */
export type MappingPreviewAnswer = PreviewUser[] | { results: PreviewUser[] } | { users: PreviewUser[] };

/** One identity link of a user: the `identities` of GET /api/users/{id}/. */
export interface IdentityLink {
  id: number;
  /** The provider's name. */
  provider: string;
  provider_display_name?: string;
  kind?: ProviderKind;
  provider_enabled?: boolean;
  subject: string;
  username?: string;
  email?: string;
  groups?: string[];
  last_sign_in: string | null;
}

/** POST /api/identity/identities/{id}/link/: the identity moved; the previous user may have been deactivated. */
export interface LinkResult {
  id: number;
  provider: string;
  from_user: number;
  to_user: number;
  deactivated_user: number | null;
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
}

/** POST /api/identity/identities/{id}/unlink/: `can_sign_in` false when the user has no way in left. */
export interface UnlinkResult {
  user: number;
  provider: string;
  can_sign_in: boolean;
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
}

/** A row of the users list, as the link picker shows it. */
export interface PickedUser {
  id: number;
  username: string;
  first_name?: string;
  last_name?: string;
  email?: string;
  is_active?: boolean;
}
