/**
 * Calls of the service map's config pages, typed by the generated schema. Changes answer 202 with
 * a cluster intent; each call here resolves once the server's task has finished it (`settle`).
 */
import { api, unwrap } from '../api/client';
import { settle, type Intent } from '../catalog/intents';
import type { AutoscalerBody, AutoscalerRow, ConfigDetail, ConfigKind, ConfigRow, ConfigSaved, ConfigVersion, SavedPackage } from './types';

const sm = (servicemap_id: number) => ({ path: { servicemap_id } });
const obj = (servicemap_id: number, kind: string, name: string) => ({ path: { servicemap_id, kind, name } });

export const configApi = {
  list: async (smId: number, signal?: AbortSignal): Promise<ConfigRow[]> =>
    unwrap(await api.GET('/api/catalog/configs/{servicemap_id}/', { params: sm(smId), signal })),
  get: async (smId: number, kind: string, name: string, reveal: boolean, signal?: AbortSignal): Promise<ConfigDetail> =>
    unwrap(
      await api.GET('/api/catalog/configs/{servicemap_id}/{kind}/{name}/', {
        params: { ...obj(smId, kind, name), query: reveal ? { reveal: true } : {} },
        signal,
      }),
    ),
  create: async (smId: number, { message = '', ...body }: { kind: ConfigKind; name: string; data: Record<string, string>; message?: string }): Promise<ConfigSaved> =>
    settle<ConfigSaved>(unwrap(await api.POST('/api/catalog/configs/{servicemap_id}/', { params: sm(smId), body: { ...body, message } })) as unknown as Intent),
  update: async (
    smId: number,
    kind: string,
    name: string,
    { message = '', ...body }: { data: Record<string, string | null>; restart: boolean; message?: string },
  ): Promise<ConfigSaved> =>
    settle<ConfigSaved>(
      unwrap(await api.PUT('/api/catalog/configs/{servicemap_id}/{kind}/{name}/', { params: obj(smId, kind, name), body: { ...body, message } })) as unknown as Intent,
    ),
  remove: async (smId: number, kind: string, name: string): Promise<void> => {
    const accepted = unwrap(await api.DELETE('/api/catalog/configs/{servicemap_id}/{kind}/{name}/', { params: obj(smId, kind, name) }));
    await settle<unknown>(accepted as unknown as Intent);
  },
  versions: async (smId: number, kind: string, name: string, signal?: AbortSignal): Promise<ConfigVersion[]> =>
    unwrap(await api.GET('/api/catalog/configs/{servicemap_id}/{kind}/{name}/versions/', { params: obj(smId, kind, name), signal })),
  restore: async (smId: number, kind: string, name: string, body: { version: number; restart: boolean }): Promise<ConfigSaved> =>
    settle<ConfigSaved>(
      unwrap(await api.POST('/api/catalog/configs/{servicemap_id}/{kind}/{name}/versions/', { params: obj(smId, kind, name), body })) as unknown as Intent,
    ),
  putAutoscaler: async (smId: number, kind: string, name: string, body: AutoscalerBody): Promise<AutoscalerRow> =>
    settle<AutoscalerRow>(
      unwrap(await api.PUT('/api/catalog/autoscalers/{servicemap_id}/{kind}/{name}/', { params: obj(smId, kind, name), body })) as unknown as Intent,
    ),
  removeAutoscaler: async (smId: number, kind: string, name: string): Promise<void> => {
    const accepted = unwrap(await api.DELETE('/api/catalog/autoscalers/{servicemap_id}/{kind}/{name}/', { params: obj(smId, kind, name) }));
    await settle<unknown>(accepted as unknown as Intent);
  },
  savePackage: async (smId: number, body: { name: string; version: string; description: string }): Promise<SavedPackage> =>
    unwrap(await api.POST('/api/catalog/servicemaps/{servicemap_id}/package/', { params: sm(smId), body })),
};
