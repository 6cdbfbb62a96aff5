/**
 * /provisioning/new — provision a cluster: provider (and management cluster) → template →
 * parameters (the template's form, the catalog's values form) → name, stage, labels → plan (the
 * rendered objects and the server-side dry run on the management cluster) → create (202: the
 * cluster's page follows its progress live).
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ValuesForm } from '../catalog/ValuesForm';
import { STAGES } from '../clusters/types';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { apiErrorText } from '../lib/messages';
import { provisioningApi } from './api';
import { ProviderName } from './common';
import { useManagementClusters, useProvision, useTemplate, useTemplates } from './queries';
import { ObjectsList, parameterErrors } from './TemplatesPage';
import { PROVIDERS, type ManagementCluster, type Plan, type ProvisionBody, type Provider } from './types';

const STEPS = ['provider', 'template', 'parameters', 'details', 'plan'] as const;
type Step = (typeof STEPS)[number];

/** `key=value` lines → labels, or the first bad line (1-based). */
export function parseLabels(text: string): { labels: Record<string, string> } | { bad: number } {
  const labels: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at <= 0) return { bad: i + 1 };
    labels[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { labels };
}

/** Whether a management cluster reports the provider among its installed infrastructure providers. */
export function hasProvider(m: ManagementCluster, provider: Provider): boolean {
  return m.infrastructure_providers.some((p) => p === provider || p.toLowerCase().endsWith(`-${provider}`) || p.toLowerCase().includes(provider));
}

export function ProvisionWizard() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const management = useManagementClusters();
  const ready = (management.data ?? []).filter((m) => m.status === 'ready');
  const [step, setStep] = useState<Step>('provider');
  const [managementId, setManagementId] = useState<number | null>(null);
  const [provider, setProvider] = useState<Provider | null>(null);
  const [templateId, setTemplateId] = useState<number | null>(null);
  const [values, setValues] = useState<Record<string, unknown>>({});
  const [name, setName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [stage, setStage] = useState<string>('dev');
  const [labelsText, setLabelsText] = useState('');
  const [plan, setPlan] = useState<Plan | null>(null);
  const [planError, setPlanError] = useState<unknown>(null);
  const [planning, setPlanning] = useState(false);
  const templates = useTemplates({ ...(provider ? { provider } : {}) }, provider !== null);
  const template = useTemplate(templateId);
  const provision = useProvision();

  // one ready management cluster: chosen for the user
  useEffect(() => {
    if (managementId === null && ready.length === 1 && ready[0]) setManagementId(ready[0].id);
  }, [managementId, ready]);

  const chosenManagement = ready.find((m) => m.id === managementId);
  const labels = parseLabels(labelsText);
  const errorFields = (planError instanceof ApiError ? planError : provision.error)?.fieldErrors ?? {};
  const paramErrors = planError instanceof ApiError ? parameterErrors(new ApiError({ status: 400, detail: '', fieldErrors: Object.fromEntries(Object.entries(errorFields).filter(([k]) => k.startsWith('parameters'))) })) : {};

  const body = (): ProvisionBody | null => {
    if (managementId === null || templateId === null || 'bad' in labels) return null;
    return {
      name: name.trim(),
      management: managementId,
      template: templateId,
      parameters: values,
      stage,
      labels: labels.labels,
      ...(displayName.trim() ? { display_name: displayName.trim() } : {}),
    };
  };

  const runPlan = () => {
    const b = body();
    if (!b) return;
    setPlanning(true);
    setPlan(null);
    setPlanError(null);
    provisioningApi
      .plan(b)
      .then(setPlan)
      .catch((e: unknown) => setPlanError(e))
      .finally(() => setPlanning(false));
  };

  const go = (next: Step) => {
    setStep(next);
    if (next === 'plan') runPlan();
  };

  const canNext =
    step === 'provider'
      ? managementId !== null && provider !== null
      : step === 'template'
        ? templateId !== null && template.data !== undefined
        : step === 'parameters'
          ? true
          : step === 'details'
            ? name.trim() !== '' && !('bad' in labels)
            : false;
  const index = STEPS.indexOf(step);

  return (
    <section className="page page-wide" data-testid="provision-page">
      <p className="muted small breadcrumbs">
        <Link to="/provisioning">{t('provisioning.title')}</Link> / {t('provisioning.wizard.title')}
      </p>
      <h1>{t('provisioning.wizard.title')}</h1>
      <div className="card wizard" data-testid="provision-wizard">
        <ol className="stepper" aria-label={t('provisioning.wizard.steps')}>
          {STEPS.map((s, i) => (
            <li key={s} data-testid={`provision-step-${s}`} data-active={String(s === step)} className={s === step ? 'active' : i < index ? 'done' : undefined} aria-current={s === step ? 'step' : undefined}>
              <span className="step-no">{i + 1}</span> {t(`provisioning.wizard.step.${s}`)}
            </li>
          ))}
        </ol>

        {step === 'provider' && (
          <div className="form-stack" data-testid="provision-provider">
            {management.isPending && <Loading />}
            {management.isError && <ErrorState error={management.error} onRetry={() => void management.refetch()} />}
            {management.data && ready.length === 0 && (
              <p className="alert alert-error" role="alert" data-testid="no-management">
                {t('provisioning.wizard.noManagement')}
              </p>
            )}
            {ready.length > 0 && (
              <FormField label={t('provisioning.wizard.management')}>
                <select name="management" data-testid="provision-management" value={managementId ?? ''} onChange={(e) => setManagementId(e.target.value ? Number(e.target.value) : null)}>
                  <option value="">—</option>
                  {ready.map((m) => (
                    <option key={m.id} value={m.id}>
                      {m.cluster_name}
                    </option>
                  ))}
                </select>
              </FormField>
            )}
            <fieldset className="form-stack">
              <legend>{t('provisioning.wizard.chooseProvider')}</legend>
              {PROVIDERS.map((p) => (
                <label key={p} className="checkbox">
                  <input
                    type="radio"
                    name="provider"
                    value={p}
                    data-testid={`provision-provider-${p}`}
                    checked={provider === p}
                    onChange={() => {
                      setProvider(p);
                      setTemplateId(null);
                      setValues({});
                    }}
                  />{' '}
                  <ProviderName provider={p} />
                  {chosenManagement && !hasProvider(chosenManagement, p) && (
                    <span className="small muted"> — {t('provisioning.wizard.providerMissing', { cluster: chosenManagement.cluster_name })}</span>
                  )}
                </label>
              ))}
            </fieldset>
          </div>
        )}

        {step === 'template' && (
          <div className="form-stack" data-testid="provision-template">
            {templates.isPending && <Loading />}
            {templates.isError && <ErrorState error={templates.error} onRetry={() => void templates.refetch()} />}
            {templates.data && templates.data.length === 0 && <p className="muted">{t('provisioning.wizard.noTemplates')}</p>}
            {templates.data && templates.data.length > 0 && (
              <fieldset className="form-stack">
                <legend>{t('provisioning.wizard.chooseTemplate')}</legend>
                {templates.data
                  .filter((x) => !x.archived)
                  .map((x) => (
                    <label key={x.id} className="checkbox">
                      <input
                        type="radio"
                        name="template"
                        value={x.id}
                        data-testid={`provision-template-${x.name}`}
                        checked={templateId === x.id}
                        onChange={() => {
                          setTemplateId(x.id);
                          setValues({});
                        }}
                      />{' '}
                      <strong>{x.display_name || x.name}</strong> <span className="small muted">{t('provisioning.templates.version', { version: x.version })}</span>
                      {x.description && <span className="small muted"> — {x.description}</span>}
                    </label>
                  ))}
              </fieldset>
            )}
            {templateId !== null && template.isPending && <Loading />}
          </div>
        )}

        {step === 'parameters' && template.data && (
          <div className="form-stack" data-testid="provision-parameters">
            <ValuesForm key={template.data.id} fields={template.data.form} values={values} onChange={setValues} errors={paramErrors} />
          </div>
        )}

        {step === 'details' && (
          <div className="form-grid" data-testid="provision-details">
            <div>
              <FormField label={t('provisioning.wizard.name')} errors={errorFields.name}>
                <input name="name" className="mono" autoComplete="off" data-testid="provision-name" value={name} onChange={(e) => setName(e.target.value)} />
              </FormField>
              <p className="small muted">{t('provisioning.wizard.nameHelp')}</p>
            </div>
            <FormField label={t('provisioning.wizard.displayName')} errors={errorFields.display_name}>
              <input name="display_name" autoComplete="off" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
            </FormField>
            <FormField label={t('provisioning.wizard.stage')} errors={errorFields.stage}>
              <select name="stage" data-testid="provision-stage" value={stage} onChange={(e) => setStage(e.target.value)}>
                {STAGES.map((s) => (
                  <option key={s} value={s}>
                    {t(`clusters.stage.${s}`)}
                  </option>
                ))}
              </select>
            </FormField>
            <div className="field-wide">
              <FormField label={t('provisioning.wizard.labels')} errors={'bad' in labels ? [t('provisioning.wizard.labelsBad', { line: labels.bad })] : (errorFields.labels ?? [])}>
                <textarea name="labels" className="mono" rows={3} data-testid="provision-labels" placeholder="team=platform" value={labelsText} onChange={(e) => setLabelsText(e.target.value)} />
              </FormField>
              <p className="small muted">{t('provisioning.wizard.labelsHelp')}</p>
            </div>
          </div>
        )}

        {step === 'plan' && (
          <div className="form-stack" data-testid="provision-plan" aria-live="polite">
            {planning && <p role="status">{t('provisioning.wizard.planning')}</p>}
            {planError !== null && (
              <p className="alert alert-error" role="alert" data-testid="provision-plan-error">
                {apiErrorText(t, planError)}
              </p>
            )}
            {plan && (
              <>
                {plan.dry_run.ok ? (
                  <p className="alert alert-success" data-testid="provision-dry-run" data-ok="true">
                    {t('provisioning.wizard.dryRunOk')}
                  </p>
                ) : (
                  <div className="alert alert-error" role="alert" data-testid="provision-dry-run" data-ok="false">
                    <p>{t('provisioning.wizard.dryRunFailed')}</p>
                    <ul>
                      {plan.dry_run.errors.map((e) => (
                        <li key={`${e.object}${e.message}`}>
                          <span className="mono">{e.object}</span>: {e.message}
                        </li>
                      ))}
                    </ul>
                  </div>
                )}
                <ObjectsList objects={plan.objects} caption={t('provisioning.wizard.objects')} />
                <details>
                  <summary>{t('provisioning.wizard.manifest')}</summary>
                  <pre className="code-block" data-testid="provision-manifest">
                    {plan.manifest}
                  </pre>
                </details>
              </>
            )}
            {provision.error && (
              <p className="alert alert-error" role="alert" data-testid="provision-error">
                {apiErrorText(t, provision.error)}
              </p>
            )}
          </div>
        )}

        <div className="wizard-buttons">
          {index > 0 && (
            <button type="button" className="btn" data-testid="provision-back" onClick={() => setStep(STEPS[index - 1] ?? 'provider')}>
              {t('provisioning.wizard.back')}
            </button>
          )}
          <span className="spacer" />
          {step !== 'plan' ? (
            <button type="button" className="btn btn-primary" data-testid="provision-next" disabled={!canNext} onClick={() => go(STEPS[index + 1] ?? 'plan')}>
              {step === 'details' ? t('provisioning.wizard.plan') : t('provisioning.wizard.next')}
            </button>
          ) : (
            <button
              type="button"
              className="btn btn-primary"
              data-testid="provision-create"
              disabled={!plan || !plan.dry_run.ok || provision.isPending}
              onClick={() => {
                const b = body();
                if (b) provision.mutate(b, { onSuccess: (answer) => navigate(`/provisioning/clusters/${answer.provisioned.id}`) });
              }}
            >
              {provision.isPending ? t('provisioning.wizard.creating') : t('provisioning.wizard.create')}
            </button>
          )}
        </div>
      </div>
    </section>
  );
}
