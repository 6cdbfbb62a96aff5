/**
 * Audit actions and targets in words (issue 22: raw codes such as `node.cordon.finished`,
 * `post:catalog-release-upgrade` and `clusters.cluster` were shown). The code stays available:
 * the list shows it in a tooltip and the filter takes it.
 *
 * Known codes map to `audit.actions.<code with dots as _>` (or `admin.audit.actions.<…>` for
 * those added with issue 20); patterns (`node.<kind>.finished`, `release.revision_<status>`) and
 * the middleware's `<method>:<view>` fall back to phrases.
 */
import type { TFunction } from 'i18next';

const key = (code: string) => code.replace(/[.:-]/g, '_');

export function auditActionLabel(t: TFunction, action: string): string {
  const known =
    t(`audit.actions.${key(action)}` as 'audit.title', { defaultValue: '' }) ||
    t(`admin.audit.actions.${key(action)}` as 'audit.title', { defaultValue: '' });
  if (known) return known;
  let m = action.match(/^node\.(cordon|uncordon|drain)(\.finished)?$/);
  if (m) return t(m[2] ? 'audit.pattern.nodeFinished' : 'audit.pattern.node', { op: t(`clusters.nodeOp.${m[1]}` as 'clusters.nodeOp.cordon') });
  m = action.match(/^release\.revision_(\w+)$/);
  if (m) return t('audit.pattern.revision', { state: t(`catalog.state.${m[1]}` as 'catalog.state.pending', { defaultValue: m[1] }) });
  m = action.match(/^(post|put|patch|delete):(.+)$/);
  if (m) return t('audit.pattern.request', { method: t(`audit.method.${m[1]}` as 'audit.method.post'), view: m[2] });
  return action;
}

export function auditTargetLabel(t: TFunction, targetType: string): string {
  if (!targetType) return '';
  return t(`audit.targets.${key(targetType)}` as 'audit.title', { defaultValue: targetType });
}
