/** The effective configuration (admins): read once per visit; it changes only with a restart. */
import { useQuery } from '@tanstack/react-query';
import { request } from '../api/request';
import type { EffectiveSettings } from './types';

export const settingsKey = ['admin', 'settings'] as const;

export function useEffectiveSettings() {
  return useQuery({
    queryKey: settingsKey,
    queryFn: () => request<EffectiveSettings>('GET', '/api/admin/settings/'),
    staleTime: 60_000,
  });
}
