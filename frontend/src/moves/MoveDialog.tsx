/**
 * "Move to cluster…" of a service map: choose a target cluster among the workspace's allocations
 * (and optionally the namespace there), see the plan (releases, config maps and secrets by key
 * count, autoscalers, image pull secrets, the target's quota, problems), then confirm; the move's
 * ledger page follows it. The source is untouched until someone retires it there.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router-dom';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { apiErrorText, serverText } from '../lib/messages';
import { useAllocations } from '../workspaces/queries';
import { useMovePlan, useStartMove } from './queries';
import type { MovePlan, Problem } from './types';

export interface MoveSource {
  id: number;
  workspaceId: number;
  name: string;
  clusterId: number;
  namespace: string;
}

function problemText(t: Parameters<typeof serverText>[0], p: Problem | string): string {
  return typeof p === 'string' ? p : serverText(t, { code: p.code, params: p.params, text: p.message });
}

function quantity(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export function PlanView({ plan }: { plan: MovePlan }) {
  const { t } = useTranslation();
  const keys = Array.from(new Set([...Object.keys(plan.quota?.needed ?? {}), ...Object.keys(plan.quota?.available ?? {})])).sort();
  return (
    <div className="form-stack" data-testid="move-plan" data-ok={String(plan.ok)}>
      {plan.problems.length > 0 && (
        <div className="alert alert-error" role="alert" data-testid="move-problems">
          <p>{t('moves.problems')}</p>
          <ul>
            {plan.problems.map((p, i) => (
              <li key={i} data-code={p.code}>
                {problemText(t, p)}
              </li>
            ))}
          </ul>
        </div>
      )}
      <h3>{t('moves.releases')}</h3>
      {plan.releases.length === 0 ? (
        <p className="muted small">{t('moves.none')}</p>
      ) : (
        <table className="table" data-testid="move-plan-releases">
          <caption className="visually-hidden">{t('moves.releases')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('moves.release')}</th>
              <th scope="col">{t('moves.package')}</th>
              <th scope="col">{t('moves.ok')}</th>
            </tr>
          </thead>
          <tbody>
            {plan.releases.map((r) => (
              <tr key={r.name} data-testid={`move-plan-release-${r.name}`} data-ok={String(r.ok)}>
                <td className="mono">{r.name}</td>
                <td>
                  {r.package} {r.version}
                </td>
                <td>{r.ok ? '✓' : r.problems.map((p) => problemText(t, p)).join('; ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>{t('moves.configs')}</h3>
      {plan.configs.length === 0 ? (
        <p className="muted small">{t('moves.none')}</p>
      ) : (
        <ul className="plain-list small" data-testid="move-plan-configs">
          {plan.configs.map((c) => (
            <li key={`${c.kind}/${c.name}`}>{t('moves.configKeys', { kind: c.kind, name: c.name, count: Array.isArray(c.keys) ? c.keys.length : c.keys })}</li>
          ))}
        </ul>
      )}
      {plan.autoscalers.length > 0 && (
        <>
          <h3>{t('moves.autoscalers')}</h3>
          <ul className="plain-list small">
            {plan.autoscalers.map((a, i) => (
              <li key={i} className="mono">
                {a.kind ? `${a.kind}/` : ''}
                {a.name ?? JSON.stringify(a)}
              </li>
            ))}
          </ul>
        </>
      )}
      {plan.pull_secrets.length > 0 && (
        <>
          <h3>{t('moves.pullSecrets')}</h3>
          <ul className="plain-list small">
            {plan.pull_secrets.map((p, i) => (
              <li key={i} className="mono">
                {typeof p === 'string' ? p : (p.name ?? JSON.stringify(p))}
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>{t('moves.quota')}</h3>
      <p className={plan.quota?.ok ? 'small' : 'small bad-text'} data-testid="move-plan-quota" data-ok={String(plan.quota?.ok)}>
        {plan.quota?.ok ? t('moves.quotaOk') : t('moves.quotaShort')}
      </p>
      {keys.length > 0 && (
        <table className="table">
          <caption className="visually-hidden">{t('moves.quota')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('moves.col.kind')}</th>
              <th scope="col">{t('moves.quotaNeeded')}</th>
              <th scope="col">{t('moves.quotaAvailable')}</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k}>
                <td className="mono small">{k}</td>
                <td className="num">{quantity(plan.quota.needed?.[k])}</td>
                <td className="num">{quantity(plan.quota.available?.[k])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className={plan.ok ? 'alert alert-success' : 'small muted'} data-testid="move-plan-verdict">
        {plan.ok ? t('moves.planOk') : t('moves.planBlocked')}
      </p>
    </div>
  );
}

export function MoveDialog({ source, onClose }: { source: MoveSource; onClose: () => void }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const allocations = useAllocations(source.workspaceId);
  const plan = useMovePlan();
  const start = useStartMove();
  const [target, setTarget] = useState('');
  const [namespace, setNamespace] = useState('');
  const targets = (allocations.data ?? []).filter((a) => a.cluster.id !== source.clusterId);
  const body = () => ({ service_map: source.id, target_cluster: Number(target), ...(namespace.trim() ? { target_namespace: namespace.trim() } : {}) });
  const planned = plan.data && plan.variables?.target_cluster === Number(target) && (plan.variables.target_namespace ?? '') === namespace.trim();
  return (
    <Dialog
      title={t('moves.title', { name: source.name })}
      onClose={onClose}
      testId="move-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="button" className="btn" data-testid="move-plan-button" disabled={!target || plan.isPending} onClick={() => plan.mutate(body())}>
            {plan.isPending ? t('moves.planning') : t('moves.plan')}
          </button>
          <button
            type="button"
            className="btn btn-primary"
            data-testid="move-confirm"
            disabled={!planned || !plan.data?.ok || start.isPending}
            onClick={() => start.mutate(body(), { onSuccess: (row) => navigate(`/moves/${row.id}`) })}
          >
            {start.isPending ? t('moves.moving') : t('moves.confirm')}
          </button>
        </>
      }
    >
      <div className="form-stack">
        {allocations.data && targets.length === 0 && <p className="muted">{t('moves.noTargets')}</p>}
        <FormField label={t('moves.target')} errors={plan.error?.forField('target_cluster') ?? []}>
          <select name="target_cluster" data-testid="move-target" value={target} onChange={(e) => setTarget(e.target.value)}>
            <option value="">{t('moves.chooseTarget')}</option>
            {targets.map((a) => (
              <option key={a.cluster.id} value={a.cluster.id}>
                {a.cluster.display_name || a.cluster.name}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('moves.targetNamespace')} errors={plan.error?.forField('target_namespace') ?? []}>
          <input name="target_namespace" className="mono" autoComplete="off" placeholder={source.namespace} value={namespace} onChange={(e) => setNamespace(e.target.value)} />
        </FormField>
        <p className="small muted">{t('moves.targetNamespaceHelp')}</p>
        {plan.error && !plan.error.forField('target_cluster').length && !plan.error.forField('target_namespace').length && (
          <p className="alert alert-error" role="alert" data-testid="move-plan-error">
            {apiErrorText(t, plan.error)}
          </p>
        )}
        {planned && plan.data && <PlanView plan={plan.data} />}
        {start.error && (
          <p className="alert alert-error" role="alert" data-testid="move-error">
            {apiErrorText(t, start.error)}
          </p>
        )}
      </div>
    </Dialog>
  );
}
