/** Test helpers: the 202 + cluster intent a config change, a plan or a drift check answers with. */
import type { Intent } from '../catalog/intents';
import { json } from './utils';

let next = 1000;

function body(over: Partial<Intent>): Intent {
  return {
    id: ++next, kind: 'config.save', status: 'succeeded', workspace: 1, service_map: 7, release: null, target: '',
    message: '', message_code: '', message_params: {}, errors: {}, created: '2026-12-01T10:00:00Z',
    finished: '2026-12-01T10:00:01Z', ...over,
  };
}

/** A 202 whose intent has already succeeded with `result` (the worker was quick). */
export function intent(result: unknown, over: Partial<Intent> = {}): Response {
  return json(body({ result, ...over }), { status: 202 });
}

/** A 202 whose intent is still pending: the console asks GET /api/catalog/intents/{id}/. */
export function pendingIntent(id: number, over: Partial<Intent> = {}): Response {
  return json(body({ id, status: 'pending', finished: null, result: null, ...over }), { status: 202 });
}

/** The intent as GET /api/catalog/intents/{id}/ shows it once finished. */
export function finishedIntent(id: number, over: Partial<Intent> = {}): Response {
  return json(body({ id, ...over }));
}
