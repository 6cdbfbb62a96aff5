/** A release's deploy strategy and where it stands (docs/catalog-api.md, "Strategies"). */
import type { components } from '../../api/schema';

export type StrategyType = 'rolling' | 'recreate' | 'bluegreen' | 'canary';
export const STRATEGY_TYPES: StrategyType[] = ['rolling', 'recreate', 'bluegreen', 'canary'];

export interface Strategy {
  type: StrategyType;
  max_surge?: string | number;
  max_unavailable?: string | number;
  canary_replicas?: number;
}

export interface StrategyState {
  type?: StrategyType;
  phase?: 'stable' | 'awaiting_promotion' | 'awaiting_confirmation' | string;
  active?: string;
  preview?: string;
  previous?: string;
  canary?: string[];
  from_revision?: number;
  keep?: string[];
}

export type ReleasePod = components['schemas']['ReleasePod'];
export interface ReleasePods {
  old: ReleasePod[];
  new: ReleasePod[];
  canary: ReleasePod[];
  strategy_state: StrategyState;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asStrategy(value: unknown): Strategy {
  if (!isRecord(value) || typeof value.type !== 'string' || !STRATEGY_TYPES.includes(value.type as StrategyType)) return { type: 'rolling' };
  return value as unknown as Strategy;
}

export function asStrategyState(value: unknown): StrategyState {
  return isRecord(value) ? (value as StrategyState) : {};
}
