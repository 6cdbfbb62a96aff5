/**
 * Cluster intents (docs/catalog-api.md, "Cluster intents"). A change of a ConfigMap, a Secret or
 * an autoscaler, a plan and a drift check answer 202 with an intent; a task on the server does
 * the cluster work and stores the outcome on it. `settle` follows the intent until it is finished
 * and returns its result, or throws the refusal as an `ApiError` (its `code` and `params` are the
 * intent's `message_code`/`message_params`, so the message is translated like any API error), so
 * callers keep awaiting one promise as they did when the answer came in the response itself.
 */
import { toApiError, type ApiError } from '../api/errors';
import { request } from '../api/request';

export type IntentStatus = 'pending' | 'running' | 'succeeded' | 'failed';

export interface Intent {
  id: number;
  kind: string;
  status: IntentStatus;
  workspace: number;
  service_map: number;
  release: number | null;
  target: string;
  message: string;
  message_code: string;
  message_params: Record<string, unknown>;
  errors: Record<string, string[]>;
  created: string;
  finished: string | null;
  result?: unknown;
}

const FIRST_WAIT_MS = 250;
const MAX_WAIT_MS = 1500;
const GIVE_UP_MS = 180_000;

export const intentApi = {
  get: (id: number, signal?: AbortSignal): Promise<Intent> => request<Intent>('GET', `/api/catalog/intents/${id}/`, { signal }),
};

/** The HTTP status the refusal would have had when the request answered it itself. */
function statusOf(intent: Intent): number {
  if (Object.keys(intent.errors ?? {}).length > 0) return 400;
  if (intent.message_code.endsWith('_not_found') || intent.message_code.endsWith('_gone')) return 404;
  if (intent.message_code === 'config_exists') return 409;
  return 502; // the cluster refused or could not be reached
}

/** The failed intent as the error its request would have thrown. */
export function intentError(intent: Intent): ApiError {
  return toApiError(new Response(null, { status: statusOf(intent) }), {
    detail: intent.message,
    code: intent.message_code || null,
    params: intent.message_params,
    errors: intent.errors,
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason ?? new DOMException('Aborted', 'AbortError'));
      },
      { once: true },
    );
  });
}

/** Wait for the intent a 202 answered with; its result once it succeeded. */
export async function settle<T>(accepted: Intent, signal?: AbortSignal): Promise<T> {
  let intent = accepted;
  let wait = FIRST_WAIT_MS;
  const deadline = Date.now() + GIVE_UP_MS;
  while (intent.status === 'pending' || intent.status === 'running') {
    if (Date.now() > deadline) {
      throw toApiError(new Response(null, { status: 504 }), {
        detail: 'The cluster has not answered yet; look again in a moment.',
        code: 'intent_timeout',
      });
    }
    await sleep(wait, signal);
    wait = Math.min(MAX_WAIT_MS, wait * 2);
    intent = await intentApi.get(intent.id, signal);
  }
  if (intent.status === 'failed') throw intentError(intent);
  return intent.result as T;
}
