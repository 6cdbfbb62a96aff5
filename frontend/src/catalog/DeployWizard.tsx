/**
 * /catalog/packages/:id/deploy — the deploy wizard:
 *   1 version + values (form from the version's `form`, or raw JSON; 400 / plan errors keyed
 *     `values.<path>` show at their field),
 *   2 targets: a workspace, one or many of its service maps, the release name, per-target
 *     overrides (JSON), and with more than one target a canary and the batch size,
 *   3 preview: POST /releases/plan/ per target → validity and errors, quota preflight per
 *     resource, the server-side dry-run and the diff against the live objects,
 *   4 deploy: one target → POST /releases/ and the release page; many → POST /rollouts/ and the
 *     rollout page.
 */
import { useQueries } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import type { ApiError } from '../api/errors';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { useAllServiceMaps, useWorkspace, useWorkspaceAccess, useWorkspaces } from '../workspaces/queries';
import type { ServiceMap } from '../workspaces/types';
import { catalogApi } from './api';
import { CatalogBadge, deepMerge, DiffView, errorLines, parseValues, useErrorFieldLabel } from './common';
import { PackageHeader } from './PackagePage';
import { ArchiveStatus } from './ArchiveStatus';
import { useCreateRelease, useCreateRollout, usePackage, useVersion } from './queries';
import type { Plan, Values } from './types';
import { ValuesForm } from './ValuesForm';

const STEPS = ['values', 'targets', 'preview', 'deploy'] as const;
type Step = (typeof STEPS)[number];

/** Errors keyed `values.*` (or `values`) from a 400 answer or a plan. */
function valueErrorsOf(errors: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(errors).filter(([k]) => k === 'values' || k.startsWith('values.')));
}

export function PlanResult({ sm, plan, error }: { sm: ServiceMap; plan: Plan | undefined; error: ApiError | null }) {
  const { t } = useTranslation();
  const fieldLabel = useErrorFieldLabel();
  const quota = plan?.errors.quota ?? [];
  const otherErrors = Object.entries(plan?.errors ?? {}).filter(([k]) => k !== 'quota');
  return (
    <section className="plan-card" data-testid={`plan-${sm.id}`} data-valid={plan ? String(plan.valid) : undefined}>
      <h3>
        {sm.cluster.name} / <span className="mono">{sm.namespace}</span>{' '}
        {plan && (
          <span className={`badge ${plan.valid ? 'tone-ok' : 'tone-bad'}`} data-testid="plan-valid">
            {plan.valid ? t('catalog.plan.valid') : t('catalog.plan.invalid')}
          </span>
        )}
      </h3>
      {!plan && !error && <Loading />}
      {error && (
        <p className="alert alert-error" role="alert" data-testid="plan-error">
          {errorLines(error, fieldLabel).join(' · ')}
        </p>
      )}
      {otherErrors.length > 0 && (
        <ul className="alert alert-error plain-list" role="alert" data-testid="plan-errors">
          {otherErrors.flatMap(([k, msgs]) => msgs.map((m) => <li key={k + m}>{`${fieldLabel(k)}: ${m}`}</li>))}
        </ul>
      )}
      {quota.length > 0 && (
        <ul className="alert alert-error plain-list" role="alert" data-testid="plan-quota-problems">
          {quota.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      )}
      {plan && plan.warnings.length > 0 && (
        <ul className="alert alert-warning plain-list" role="note" data-testid="plan-warnings">
          {plan.warnings.map((w) => (
            <li key={w.code + w.message} data-code={w.code} title={w.message}>
              {t(`catalog.plan.warning_${w.code}`, { defaultValue: w.message })}
            </li>
          ))}
        </ul>
      )}
      {plan && (plan.preflight.resources?.length ?? 0) > 0 && (
        <table className="table table-dense" data-testid="plan-preflight">
          <caption className="small muted">{t('catalog.plan.preflight')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('catalog.plan.resource')}</th>
              <th scope="col" className="num">{t('catalog.plan.requested')}</th>
              <th scope="col" className="num">{t('catalog.plan.used')}</th>
              <th scope="col" className="num">{t('catalog.plan.hard')}</th>
              <th scope="col" className="num">{t('catalog.plan.remaining')}</th>
              <th scope="col">{t('catalog.plan.fits')}</th>
            </tr>
          </thead>
          <tbody>
            {plan.preflight.resources?.map((r) => (
              <tr key={r.resource} data-testid={`preflight-${r.resource}`} data-fits={String(r.fits)} className={r.fits ? undefined : 'row-warning'}>
                <td className="mono">{r.resource}</td>
                <td className="num">{r.requested}</td>
                <td className="num">{r.used}</td>
                <td className="num">{r.hard}</td>
                <td className="num">{r.remaining}</td>
                <td>{r.fits ? <span className="badge tone-ok">{t('catalog.plan.fitsYes')}</span> : <span className="badge tone-bad">{t('catalog.plan.fitsNo')}</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {plan && plan.objects.length > 0 && (
        <p className="small" data-testid="plan-objects">
          {t('catalog.plan.objects')}: {plan.objects.map((o) => `${o.kind}/${o.name}`).join(', ')}
        </p>
      )}
      {plan && plan.dry_run.message && (
        <p className={`small ${plan.dry_run.ok ? 'ok-text' : 'bad-text'}`} data-testid="plan-dry-run" data-ok={String(plan.dry_run.ok === true)}>
          {t('catalog.plan.dryRun')}: {plan.dry_run.ok ? t('catalog.plan.dryRunOk') : plan.dry_run.message}
        </p>
      )}
      {plan && plan.valid && (
        <>
          <h4 className="small">{t('catalog.plan.diff')}</h4>
          <DiffView diff={plan.diff} testId="plan-diff" emptyText={t('catalog.plan.noDiff')} />
        </>
      )}
    </section>
  );
}

export function DeployWizard() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const id = Number(useParams().id);
  const [params] = useSearchParams();
  const pkg = usePackage(id);
  const versions = pkg.data?.versions ?? [];
  const [versionId, setVersionId] = useState<number | null>(Number(params.get('version')) || null);
  const effectiveVersion = versionId ?? versions[0]?.id ?? null;
  const version = useVersion(effectiveVersion);
  const [step, setStep] = useState<Step>('values');
  const [values, setValues] = useState<Values>({});
  const [valueErrors, setValueErrors] = useState<Record<string, string[]>>({});

  // --- targets
  const workspaces = useWorkspaces({});
  const fixedWorkspace = pkg.data?.workspace?.id ?? null;
  const [chosenWorkspace, setChosenWorkspace] = useState<number | null>(null);
  const workspaceId = fixedWorkspace ?? chosenWorkspace ?? workspaces.data?.results[0]?.id ?? null;
  const workspace = useWorkspace(workspaceId ?? NaN);
  const access = useWorkspaceAccess(workspace.data);
  const maps = useAllServiceMaps(workspaceId ? { workspace: workspaceId } : {});
  const mapRows = (maps.data?.results ?? []).filter((m) => m.workspace.id === workspaceId && m.status !== 'deleting');
  const [selected, setSelected] = useState<number[]>([]);
  const [name, setName] = useState('');
  const releaseName = name || pkg.data?.name || '';
  const [overrides, setOverrides] = useState<Record<number, string>>({});
  const [canary, setCanary] = useState<number | null>(null);
  const [batchSize, setBatchSize] = useState('5');
  const targets = mapRows.filter((m) => selected.includes(m.id));
  const fieldLabel = useErrorFieldLabel(targets); // a rollout's 400 names targets.<i>.<field>
  const overrideOf = (sid: number): Values | null => {
    const parsed = parseValues(overrides[sid] ?? '');
    return 'values' in parsed ? parsed.values : null;
  };
  const badOverrides = targets.filter((m) => overrideOf(m.id) === null).map((m) => m.id);
  const targetsOk = targets.length > 0 && releaseName.length > 0 && badOverrides.length === 0;

  // --- preview: one plan per target, fetched when step 3 opens
  const planKey = useMemo(() => JSON.stringify({ effectiveVersion, values, releaseName, overrides, selected }), [effectiveVersion, values, releaseName, overrides, selected]);
  const plans = useQueries({
    queries: targets.map((m) => ({
      queryKey: ['catalog', 'plan', m.id, planKey],
      queryFn: () =>
        catalogApi.plan({ service_map: m.id, name: releaseName, package_version: effectiveVersion ?? 0, values: deepMerge(values, overrideOf(m.id) ?? {}) }),
      enabled: (step === 'preview' || step === 'deploy') && effectiveVersion !== null,
      staleTime: Infinity,
      gcTime: 60_000,
    })),
  });
  const planErrors: Record<string, string[]> = {};
  for (const p of plans) for (const [k, v] of Object.entries(valueErrorsOf(p.data?.errors ?? {}))) planErrors[k] = [...(planErrors[k] ?? []), ...v.filter((m) => !(planErrors[k] ?? []).includes(m))];
  const plansDone = plans.length > 0 && plans.every((p) => p.data || p.error);
  const allValid = plansDone && plans.every((p) => p.data?.valid);

  // --- deploy
  const createRelease = useCreateRelease();
  const createRollout = useCreateRollout();
  const deployError = createRelease.error ?? createRollout.error;
  const deploying = createRelease.isPending || createRollout.isPending;
  const onDeployError = (error: ApiError) => {
    const ve = valueErrorsOf(error.fieldErrors);
    if (Object.keys(ve).length > 0) {
      setValueErrors(ve);
      setStep('values');
    }
  };
  const deploy = () => {
    if (effectiveVersion === null || workspaceId === null) return;
    const [m] = targets;
    if (targets.length === 1 && m) {
      createRelease.mutate(
        { service_map: m.id, name: releaseName, package_version: effectiveVersion, values: deepMerge(values, overrideOf(m.id) ?? {}), strategy: {} },
        { onSuccess: (release) => navigate(`/releases/${release.id}`), onError: onDeployError },
      );
    } else {
      createRollout.mutate(
        {
          workspace: workspaceId,
          release_name: releaseName,
          package_version: effectiveVersion,
          values,
          targets: targets.map((m) => ({ service_map: m.id, overrides: overrideOf(m.id) ?? {} })),
          canary: canary !== null && selected.includes(canary) ? canary : null,
          batch_size: Math.max(1, Number(batchSize) || 1),
          max_failures: 0,
        },
        { onSuccess: (rollout) => navigate(`/rollouts/${rollout.id}`), onError: onDeployError },
      );
    }
  };

  const shownErrors = step === 'values' ? { ...planErrors, ...valueErrors } : valueErrors;
  const stepIndex = STEPS.indexOf(step);
  const canNext = step === 'values' ? version.data !== undefined : step === 'targets' ? targetsOk : step === 'preview' ? plansDone : false;

  return (
    <section className="page page-wide" data-testid="deploy-page">
      <p className="muted small breadcrumbs">
        <Link to="/catalog">{t('nav.catalog')}</Link> / <Link to={`/catalog/packages/${id}`}>{pkg.data?.name ?? id}</Link> / {t('catalog.deploy.title')}
      </p>
      {pkg.isPending && <Loading />}
      {pkg.isError && <ErrorState error={pkg.error} onRetry={() => void pkg.refetch()} />}
      {pkg.data && <PackageHeader pkg={pkg.data} />}
      <div className="card wizard" data-testid="deploy-wizard">
        <ol className="stepper" data-testid="deploy-steps">
          {STEPS.map((s, i) => (
            <li key={s} data-testid={`deploy-step-${s}`} data-active={String(s === step)} className={s === step ? 'active' : undefined}>
              <span className="step-no">{i + 1}</span> {t(`catalog.deploy.step.${s}`)}
            </li>
          ))}
        </ol>

        {step === 'values' && (
          <div className="form-stack" data-testid="deploy-values">
            <FormField label={t('catalog.col.version')}>
              <select
                name="version"
                data-testid="deploy-version"
                value={effectiveVersion === null ? '' : String(effectiveVersion)}
                onChange={(e) => {
                  setVersionId(Number(e.target.value));
                  setValueErrors({});
                }}
              >
                {versions.map((v) => (
                  <option key={v.id} value={String(v.id)}>
                    {v.version}
                    {v.app_version ? ` (${v.app_version})` : ''}
                  </option>
                ))}
              </select>
            </FormField>
            {version.isPending && effectiveVersion !== null && <Loading />}
            {version.isError && <ErrorState error={version.error} onRetry={() => void version.refetch()} />}
            <ArchiveStatus version={version.data} />
            {version.data && (
              <ValuesForm
                key={version.data.id}
                fields={version.data.form}
                values={values}
                onChange={(v) => {
                  setValues(v);
                  setValueErrors({});
                }}
                errors={shownErrors}
                defaultsYaml={version.data.values_yaml}
              />
            )}
          </div>
        )}

        {step === 'targets' && (
          <div className="form-stack" data-testid="deploy-targets">
            {fixedWorkspace === null && (
              <FormField label={t('catalog.deploy.workspace')}>
                <select
                  name="workspace"
                  data-testid="deploy-workspace"
                  value={workspaceId === null ? '' : String(workspaceId)}
                  onChange={(e) => {
                    setChosenWorkspace(Number(e.target.value));
                    setSelected([]);
                  }}
                >
                  {(workspaces.data?.results ?? []).map((w) => (
                    <option key={w.id} value={String(w.id)}>
                      {w.display_name || w.name}
                    </option>
                  ))}
                </select>
              </FormField>
            )}
            {workspace.data && !access.can('workloads.deploy') && (
              <p className="alert alert-warning" data-testid="deploy-no-grant">
                {t('catalog.deploy.noGrant', { workspace: workspace.data.name })}
              </p>
            )}
            <FormField label={t('catalog.deploy.releaseName')}>
              <input name="release_name" data-testid="deploy-release-name" className="mono" autoComplete="off" value={releaseName} onChange={(e) => setName(e.target.value.trim())} />
            </FormField>
            <fieldset>
              <legend>{t('catalog.deploy.serviceMaps')}</legend>
              {maps.isPending && <Loading />}
              {maps.data && mapRows.length === 0 && <p className="muted" data-testid="deploy-no-servicemaps">{t('catalog.deploy.noServiceMaps')}</p>}
              <div className="target-list">
                {mapRows.map((m) => {
                  const on = selected.includes(m.id);
                  return (
                    <div key={m.id} className="target-line" data-testid={`target-${m.cluster.name}-${m.namespace}`}>
                      <label className="checkbox">
                        <input
                          type="checkbox"
                          data-testid={`target-check-${m.id}`}
                          checked={on}
                          onChange={(e) => setSelected((s) => (e.target.checked ? [...s, m.id] : s.filter((x) => x !== m.id)))}
                        />{' '}
                        <strong>{m.cluster.display_name || m.cluster.name}</strong> / <span className="mono">{m.namespace}</span>{' '}
                        <span className="muted small">{m.display_name}</span>
                      </label>
                      {on && (
                        <FormField label={t('catalog.deploy.overrides')} errors={badOverrides.includes(m.id) ? [t('catalog.values.badJson')] : []}>
                          <textarea
                            name={`overrides.${m.id}`}
                            data-testid={`target-overrides-${m.id}`}
                            className="mono"
                            rows={2}
                            placeholder='{"replicas": 2}'
                            value={overrides[m.id] ?? ''}
                            onChange={(e) => setOverrides((o) => ({ ...o, [m.id]: e.target.value }))}
                          />
                        </FormField>
                      )}
                    </div>
                  );
                })}
              </div>
            </fieldset>
            {targets.length > 1 && (
              <div className="form-grid" data-testid="deploy-rollout-policy">
                <FormField label={t('catalog.deploy.canary')}>
                  <select name="canary" data-testid="deploy-canary" value={canary === null ? '' : String(canary)} onChange={(e) => setCanary(e.target.value ? Number(e.target.value) : null)}>
                    <option value="">{t('catalog.deploy.noCanary')}</option>
                    {targets.map((m) => (
                      <option key={m.id} value={String(m.id)}>
                        {m.cluster.name} / {m.namespace}
                      </option>
                    ))}
                  </select>
                </FormField>
                <FormField label={t('catalog.deploy.batchSize')}>
                  <input name="batch_size" data-testid="deploy-batch-size" type="number" min={1} max={100} value={batchSize} onChange={(e) => setBatchSize(e.target.value)} />
                </FormField>
              </div>
            )}
          </div>
        )}

        {(step === 'preview' || step === 'deploy') && (
          <div data-testid="deploy-preview">
            {Object.keys(planErrors).length > 0 && (
              <p className="alert alert-error" role="alert" data-testid="plan-values-errors">
                {t('catalog.plan.valuesErrors')}{' '}
                <button type="button" className="btn btn-small" onClick={() => setStep('values')}>
                  {t('catalog.plan.fixValues')}
                </button>
              </p>
            )}
            {step === 'preview' &&
              targets.map((m, i) => <PlanResult key={m.id} sm={m} plan={plans[i]?.data} error={(plans[i]?.error as ApiError | null) ?? null} />)}
            {step === 'deploy' && (
              <div className="form-stack" data-testid="deploy-summary">
                <p>
                  {targets.length === 1
                    ? t('catalog.deploy.summaryOne', { name: releaseName, target: `${targets[0]?.cluster.name}/${targets[0]?.namespace}` })
                    : t('catalog.deploy.summaryMany', { name: releaseName, count: targets.length })}
                </p>
                {!allValid && (
                  <p className="alert alert-warning" data-testid="deploy-invalid-warning">
                    {t('catalog.deploy.invalidWarning')}
                  </p>
                )}
                {deployError && (
                  <div className="alert alert-error" role="alert" data-testid="deploy-error" data-status={deployError.status}>
                    <div>
                      {errorLines(deployError, fieldLabel).map((line) => (
                        <div key={line}>{line}</div>
                      ))}
                    </div>
                  </div>
                )}
                <ul className="plain-list small">
                  {targets.map((m) => (
                    <li key={m.id}>
                      {m.cluster.name} / <span className="mono">{m.namespace}</span>
                      {plans[targets.indexOf(m)]?.data && <> · <CatalogBadge state={plans[targets.indexOf(m)]?.data?.valid ? 'ready' : 'error'} /></>}
                    </li>
                  ))}
                </ul>
              </div>
            )}
          </div>
        )}

        <div className="wizard-buttons">
          {stepIndex > 0 && (
            <button type="button" className="btn" data-testid="deploy-back" onClick={() => setStep(STEPS[stepIndex - 1] ?? 'values')}>
              {t('common.back')}
            </button>
          )}
          <span className="spacer" />
          {step !== 'deploy' ? (
            <button type="button" className="btn btn-primary" data-testid="deploy-next" disabled={!canNext} onClick={() => setStep(STEPS[stepIndex + 1] ?? 'deploy')}>
              {t('common.next')}
            </button>
          ) : (
            <button type="button" className="btn btn-primary" data-testid="deploy-submit" disabled={deploying || !targetsOk || !access.can('workloads.deploy')} onClick={deploy}>
              {deploying ? t('catalog.deploy.deploying') : targets.length > 1 ? t('catalog.deploy.startRollout') : t('catalog.deploy.submit')}
            </button>
          )}
        </div>
      </div>
    </section>
  );
}
