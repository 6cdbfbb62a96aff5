/**
 * Hand-written types of the moves API (/api/catalog/moves/, CONTRACT "New portal API", MOVE;
 * catalog.models.Move / MoveRelease) until it is in the generated schema.
 */
import type { Coded } from '../provisioning/types';

export type MoveStatus = 'running' | 'healthy' | 'retiring' | 'retired' | 'failed';
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface Problem {
  code: string;
  message: string;
  params?: Record<string, unknown>;
}

export interface PlanRelease {
  name: string;
  package: string;
  version: string;
  ok: boolean;
  problems: (Problem | string)[];
}

export interface MovePlan {
  source: { cluster?: number; cluster_name?: string; namespace?: string } & Record<string, unknown>;
  target: { cluster?: number; cluster_name?: string; namespace?: string } & Record<string, unknown>;
  releases: PlanRelease[];
  configs: { kind: string; name: string; keys: string[] | number }[];
  autoscalers: ({ name?: string; kind?: string } & Record<string, unknown>)[];
  quota: { needed: Record<string, unknown>; available: Record<string, unknown>; ok: boolean };
  pull_secrets: (string | ({ name?: string } & Record<string, unknown>))[];
  problems: Problem[];
  ok: boolean;
}

export interface MoveBody {
  service_map: number;
  target_cluster: number;
  target_namespace?: string;
}

export interface MoveStep extends Partial<Coded> {
  key: string;
  state: StepState;
  started?: string | null;
  finished?: string | null;
}

export interface MoveReleaseRow extends Partial<Coded> {
  name: string;
  /** "<package> <version>" */
  version?: string;
  version_label?: string;
  source_revision?: number;
  revision?: number | null;
  target_release?: number | null;
  state: string;
}

export interface Move extends Coded {
  id: number;
  workspace: number | { id: number; name?: string };
  source: number | null;
  target: number | null;
  source_cluster: number | null;
  target_cluster: number | null;
  source_cluster_name: string;
  target_cluster_name: string;
  source_namespace: string;
  target_namespace: string;
  status: MoveStatus;
  steps: MoveStep[];
  releases?: MoveReleaseRow[];
  quota?: Record<string, unknown>;
  created: string;
  finished: string | null;
  retired: string | null;
  created_by?: string | null;
}

export const workspaceIdOf = (m: Pick<Move, 'workspace'>): number => (typeof m.workspace === 'number' ? m.workspace : m.workspace.id);
