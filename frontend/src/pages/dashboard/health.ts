/**
 * GET /readyz is a plain Django view outside the REST API; it answers 200
 * (all checks pass) or 503 (something failed) with the same JSON body.
 */
import { useQuery } from '@tanstack/react-query';
import type { Readiness, ReadinessCheck } from '../../api/types';

export const READYZ_REFRESH_MS = 15_000;

function isCheck(value: unknown): value is ReadinessCheck {
  return (
    typeof value === 'object' &&
    value !== null &&
    'ok' in value &&
    typeof value.ok === 'boolean'
  );
}

export function parseReadiness(body: unknown): Readiness {
  if (typeof body !== 'object' || body === null || !('checks' in body)) {
    throw new Error('unexpected /readyz body');
  }
  const raw = body.checks;
  const checks: Record<string, ReadinessCheck> = {};
  if (typeof raw === 'object' && raw !== null) {
    for (const [name, value] of Object.entries(raw)) {
      if (isCheck(value)) checks[name] = { ok: value.ok, detail: String(value.detail ?? '') };
    }
  }
  const status = 'status' in body && body.status === 'ok' ? 'ok' : 'fail';
  return { status, checks };
}

export async function fetchReadiness(): Promise<Readiness> {
  const response = await globalThis.fetch(new URL('/readyz', window.location.origin), {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (response.status !== 200 && response.status !== 503) {
    throw new Error(`HTTP ${response.status}`);
  }
  return parseReadiness(await response.json());
}

export function useReadiness() {
  return useQuery({
    queryKey: ['readyz'],
    queryFn: fetchReadiness,
    refetchInterval: READYZ_REFRESH_MS,
    refetchIntervalInBackground: false,
    staleTime: 0,
    retry: false,
  });
}
