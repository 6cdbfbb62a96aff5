/**
 * Where an object's page is, and which group/version/plural a kind of the read model lives at,
 * so rows of the inventory lists (which know only a kind) can link to the object page and act on
 * the object.
 */
import type { ObjectRef } from './types';

/** The inventory kinds and the API resource each is served as. */
export const GVR_OF_KIND: Record<string, { group: string; version: string; plural: string }> = {
  Pod: { group: 'core', version: 'v1', plural: 'pods' },
  Namespace: { group: 'core', version: 'v1', plural: 'namespaces' },
  Node: { group: 'core', version: 'v1', plural: 'nodes' },
  Service: { group: 'core', version: 'v1', plural: 'services' },
  ConfigMap: { group: 'core', version: 'v1', plural: 'configmaps' },
  Secret: { group: 'core', version: 'v1', plural: 'secrets' },
  PersistentVolume: { group: 'core', version: 'v1', plural: 'persistentvolumes' },
  PersistentVolumeClaim: { group: 'core', version: 'v1', plural: 'persistentvolumeclaims' },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments' },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets' },
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets' },
  ReplicaSet: { group: 'apps', version: 'v1', plural: 'replicasets' },
  Job: { group: 'batch', version: 'v1', plural: 'jobs' },
  CronJob: { group: 'batch', version: 'v1', plural: 'cronjobs' },
  Ingress: { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses' },
  StorageClass: { group: 'storage.k8s.io', version: 'v1', plural: 'storageclasses' },
  HorizontalPodAutoscaler: { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers' },
};

/** The ref of a read-model row, or null for a kind we do not know the resource of. */
export function refOfRow(row: { kind: string; namespace?: string; name: string }): ObjectRef | null {
  const gvr = GVR_OF_KIND[row.kind];
  if (!gvr) return null;
  return { ...gvr, kind: row.kind, namespace: row.namespace ?? '', name: row.name };
}

/** `/clusters/1/objects/apps/v1/deployments/web?namespace=shop` (`tab` picks YAML/Timeline/Terminal). */
export function objectPath(clusterId: number, ref: ObjectRef, tab?: string): string {
  const path = [ref.group || 'core', ref.version, ref.plural, ref.name].map(encodeURIComponent).join('/');
  const query = new URLSearchParams();
  if (ref.namespace) query.set('namespace', ref.namespace);
  if (tab) query.set('tab', tab);
  const qs = query.toString();
  return `/clusters/${clusterId}/objects/${path}${qs ? `?${qs}` : ''}`;
}

export function createPath(clusterId: number, namespace?: string): string {
  return `/clusters/${clusterId}/create${namespace ? `?namespace=${encodeURIComponent(namespace)}` : ''}`;
}

/** The release page of an object a catalog release owns. */
export function releasePath(id: number): string {
  return `/releases/${id}`;
}
