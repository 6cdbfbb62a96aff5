/**
 * Types of the service map's config pages (docs/catalog-api.md, "Config maps, secrets and
 * autoscalers of a service map" and "Saving a service map as a package"), from the generated schema.
 */
import type { components } from '../api/schema';

type S = components['schemas'];
export type ConfigKind = 'ConfigMap' | 'Secret';
export type ConfigRow = S['ConfigRow'];
/** A Secret's values are `null` unless revealed. */
export type ConfigDetail = S['ConfigDetail'];
export type ConfigVersion = S['ConfigVersion'];
export type ConfigSaved = S['ConfigSaved'];
export type AutoscalerRow = S['AutoscalerRow'];
export interface AutoscalerBody {
  min_replicas: number;
  max_replicas: number;
  cpu_percent: number | null;
  memory_percent: number | null;
}
export type SavedPackage = S['SavedPackage'];

/** The read model's projection of a HorizontalPodAutoscaler (clusters/watcher/projection.py). */
export interface HpaData {
  target?: { kind?: string; name?: string };
  min_replicas?: number;
  max_replicas?: number | null;
  current_replicas?: number | null;
  desired_replicas?: number | null;
  metrics?: Array<{ type?: string; resource?: { name?: string; target?: { type?: string; averageUtilization?: number } } }>;
}
