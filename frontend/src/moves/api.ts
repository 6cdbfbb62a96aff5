/** Calls to /api/catalog/moves/ (CONTRACT "New portal API", MOVE) through `request`. */
import { request } from '../api/request';
import { rowsOf } from '../provisioning/api';
import type { ListOf } from '../provisioning/types';
import type { Move, MoveBody, MovePlan } from './types';

const BASE = '/api/catalog/moves';

export const movesApi = {
  plan: (body: MoveBody) => request<MovePlan>('POST', `${BASE}/plan/`, { body }),
  create: (body: MoveBody) => request<Move>('POST', `${BASE}/`, { body }),
  list: (query: { service_map?: number; workspace?: number }, signal?: AbortSignal) =>
    request<ListOf<Move>>('GET', `${BASE}/`, { query: { page_size: 50, ...query }, signal }).then(rowsOf),
  get: (id: number, signal?: AbortSignal) => request<Move>('GET', `${BASE}/${id}/`, { signal }),
  retire: (id: number, confirm: string) => request<Move>('POST', `${BASE}/${id}/retire-source/`, { body: { confirm } }),
};
