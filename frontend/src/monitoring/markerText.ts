/**
 * A marker's title in the reader's language. The chart API sends an English title (canonical, shown
 * as is in English) and the `params` it was made from; other languages build the title from the
 * params with `monitoring.markerTitle.*`, and fall back to the English title for anything unknown.
 */
import type { TFunction } from 'i18next';
import type { ChartMarker } from './types';

type Lookup = (key: string, options: Record<string, unknown>) => string;

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

export function markerTitle(t: TFunction, lang: string, m: Pick<ChartMarker, 'kind' | 'title' | 'params'>): string {
  const p = m.params ?? {};
  if (lang === 'en' || !m.params) return m.title;
  const tt = t as unknown as Lookup;
  const failed = p.status === 'failed' ? tt('monitoring.markerTitle.failed', {}) : '';
  if (p.release !== undefined && p.revision !== undefined) {
    const action = str(p.action);
    const key = action === 'rollback' ? 'rollback' : action === 'install' ? 'install' : action === 'upgrade' ? 'upgrade' : null;
    if (!key) return m.title;
    return tt(`monitoring.markerTitle.${key}`, { release: str(p.release), revision: str(p.revision), version: str(p.version), rollback_of: str(p.rollback_of) }) + failed;
  }
  if (p.object_kind !== undefined && p.name !== undefined && p.action !== undefined) {
    const where = p.namespace ? `${str(p.namespace)}/${str(p.name)}` : str(p.name);
    const action = str(p.action);
    if (action === 'scale' && p.replicas !== null && p.replicas !== undefined) {
      return tt('monitoring.markerTitle.scaleTo', { kind: str(p.object_kind), where, replicas: str(p.replicas) });
    }
    if (!['scale', 'restart', 'rollback', 'apply', 'delete'].includes(action)) return m.title;
    return tt(`monitoring.markerTitle.object_${action}`, { kind: str(p.object_kind), where });
  }
  if (p.event === 'fired' || p.event === 'resolved') {
    const subject = [p.subject_kind, p.namespace, p.subject_name].map(str).filter(Boolean).join('/');
    const what = str(p.rule) || tt('monitoring.marker.alert', {});
    return tt(`monitoring.markerTitle.${p.event}`, { label: subject ? `${what}: ${subject}` : what });
  }
  return m.title;
}
