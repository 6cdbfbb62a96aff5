/** Calls of the service map's config pages, typed by the generated schema. */
import { api, unwrap } from '../api/client';
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
    unwrap(await api.POST('/api/catalog/configs/{servicemap_id}/', { params: sm(smId), body: { ...body, message } })),
  update: async (
    smId: number,
    kind: string,
    name: string,
    { message = '', ...body }: { data: Record<string, string | null>; restart: boolean; message?: string },
  ): Promise<ConfigSaved> =>
    unwrap(await api.PUT('/api/catalog/configs/{servicemap_id}/{kind}/{name}/', { params: obj(smId, kind, name), body: { ...body, message } })),
  remove: async (smId: number, kind: string, name: string): Promise<void> => {
    unwrap(await api.DELETE('/api/catalog/configs/{servicemap_id}/{kind}/{name}/', { params: obj(smId, kind, name) }));
  },
  versions: async (smId: number, kind: string, name: string, signal?: AbortSignal): Promise<ConfigVersion[]> =>
    unwrap(await api.GET('/api/catalog/configs/{servicemap_id}/{kind}/{name}/versions/', { params: obj(smId, kind, name), signal })),
  restore: async (smId: number, kind: string, name: string, body: { version: number; restart: boolean }): Promise<ConfigSaved> =>
    unwrap(await api.POST('/api/catalog/configs/{servicemap_id}/{kind}/{name}/versions/', { params: obj(smId, kind, name), body })),
  putAutoscaler: async (smId: number, kind: string, name: string, body: AutoscalerBody): Promise<AutoscalerRow> =>
    unwrap(await api.PUT('/api/catalog/autoscalers/{servicemap_id}/{kind}/{name}/', { params: obj(smId, kind, name), body })),
  removeAutoscaler: async (smId: number, kind: string, name: string): Promise<void> => {
    unwrap(await api.DELETE('/api/catalog/autoscalers/{servicemap_id}/{kind}/{name}/', { params: obj(smId, kind, name) }));
  },
  savePackage: async (smId: number, body: { name: string; version: string; description: string }): Promise<SavedPackage> =>
    unwrap(await api.POST('/api/catalog/servicemaps/{servicemap_id}/package/', { params: sm(smId), body })),
};
