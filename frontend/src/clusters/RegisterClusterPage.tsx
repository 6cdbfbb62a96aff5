/**
 * /clusters/new (admins): register a cluster in three steps — metadata, connection (kubeconfig
 * upload + context, or URL + CA + token/client certificate), review. The server's 400 puts each
 * field error at its field and jumps back to the step that holds it; `detail` shows on top.
 */
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router-dom';
import { FormField } from '../components/FormField';
import { apiErrorText } from '../lib/messages';
import {
  CONNECTION_FIELDS,
  ConnectionFields,
  DNS1123,
  EMPTY_CONNECTION,
  EMPTY_METADATA,
  METADATA_FIELDS,
  MetadataFields,
  connectionBody,
  connectionComplete,
  labelsObject,
  metadataBody,
  type ConnectionDraft,
  type MetadataDraft,
} from './forms';
import { useRegisterCluster } from './queries';

const STEPS = ['metadata', 'connection', 'review'] as const;
type Step = 0 | 1 | 2;

/** `namespaces`, or one entry of it (`namespaces.0`: the server names the bad item). */
const isNamespacesField = (f: string) => f === 'namespaces' || f.startsWith('namespaces.');

/** The step that shows a field, so a server error can take the user there. */
export function stepOfErrors(fields: string[]): Step | null {
  if (fields.some((f) => METADATA_FIELDS.includes(f))) return 0;
  if (fields.some((f) => CONNECTION_FIELDS.includes(f) || isNamespacesField(f))) return 1;
  return null;
}

export function RegisterClusterPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const register = useRegisterCluster();
  const [step, setStep] = useState<Step>(0);
  const [metadata, setMetadata] = useState<MetadataDraft>(EMPTY_METADATA);
  const [connection, setConnection] = useState<ConnectionDraft>(EMPTY_CONNECTION);
  const [namespaces, setNamespaces] = useState('');
  const namespaceList = namespaces.split(/[\s,]+/).filter(Boolean);
  const errors = register.error?.fieldErrors ?? {};
  const topErrors = [...(errors.non_field_errors ?? [])];
  const unplaced = Object.keys(errors).filter(
    (f) => f !== 'non_field_errors' && !isNamespacesField(f) && !METADATA_FIELDS.includes(f) && !CONNECTION_FIELDS.includes(f),
  );
  for (const f of unplaced) topErrors.push(...(errors[f] ?? []).map((m) => `${f}: ${m}`));

  const canNext = step === 0 ? DNS1123.test(metadata.name) : step === 1 ? connectionComplete(connection) : true;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (step < 2) {
      if (canNext) setStep((step + 1) as Step);
      return;
    }
    register.mutate(
      { name: metadata.name.trim(), ...metadataBody(metadata), ...connectionBody(connection), ...(namespaceList.length ? { namespaces: namespaceList } : {}) },
      {
        onSuccess: (cluster) => void navigate(`/clusters/${cluster.id}`),
        onError: (error) => {
          const target = stepOfErrors(Object.keys(error.fieldErrors));
          if (target !== null) setStep(target);
        },
      },
    );
  };

  const chosen = connection.contexts?.contexts.find((c) => c.name === connection.context);
  const labels = labelsObject(metadata.labels);
  return (
    <section className="page" data-testid="register-page">
      <header className="page-header">
        <p className="muted small">
          <Link to="/clusters">{t('nav.clusters')}</Link> /
        </p>
        <h1>{t('clusters.wizard.title')}</h1>
      </header>
      <ol className="stepper" data-testid="wizard-steps">
        {STEPS.map((s, i) => (
          <li key={s} className={i === step ? 'active' : i < step ? 'done' : ''} data-testid={`wizard-step-${s}`} data-active={i === step}>
            <span className="step-no">{i + 1}</span> {t(`clusters.wizard.step.${s}`)}
          </li>
        ))}
      </ol>
      <form className="card wizard" data-testid="wizard" onSubmit={submit} noValidate>
        {register.error && (
          <div className="alert alert-error" role="alert" data-testid="wizard-error">
            <div>
              <strong>{apiErrorText(t, register.error)}</strong>
              {topErrors.length > 0 && (
                <ul className="plain-list">
                  {topErrors.map((m) => (
                    <li key={m}>{m}</li>
                  ))}
                </ul>
              )}
            </div>
          </div>
        )}
        {step === 0 && <MetadataFields value={metadata} onChange={setMetadata} errors={errors} nameEditable />}
        {step === 1 && <ConnectionFields value={connection} onChange={setConnection} errors={errors} />}
        {step === 1 && (
          <FormField
            label={t('clusters.field.namespaces')}
            errors={Object.entries(errors).flatMap(([f, messages]) => (isNamespacesField(f) ? (messages ?? []) : []))}
          >
            <input
              name="namespaces"
              autoComplete="off"
              spellCheck={false}
              value={namespaces}
              placeholder="team-a, team-b"
              data-testid="wizard-namespaces"
              onChange={(e) => setNamespaces(e.target.value)}
            />
          </FormField>
        )}
        {step === 1 && <p className="small muted">{t('clusters.wizard.namespacesHint')}</p>}
        {step === 2 && (
          <dl className="kv review" data-testid="wizard-review">
            <dt>{t('clusters.field.name')}</dt>
            <dd className="mono">{metadata.name}</dd>
            <dt>{t('clusters.field.displayName')}</dt>
            <dd>{metadata.display_name || t('common.none')}</dd>
            <dt>{t('clusters.field.provider')}</dt>
            <dd>
              {t(`clusters.provider.${metadata.provider}`)} {metadata.region && `· ${metadata.region}`}
            </dd>
            <dt>{t('clusters.field.stage')}</dt>
            <dd>{t(`clusters.stage.${metadata.stage}`)}</dd>
            <dt>{t('clusters.field.labels')}</dt>
            <dd>
              {Object.keys(labels).length === 0
                ? t('common.none')
                : Object.entries(labels).map(([k, v]) => (
                    <span key={k} className="chip">
                      {k}={v}
                    </span>
                  ))}
            </dd>
            {namespaceList.length > 0 && (
              <>
                <dt>{t('clusters.field.namespaces')}</dt>
                <dd className="mono">{namespaceList.join(', ')}</dd>
              </>
            )}
            <dt>{t('clusters.wizard.step.connection')}</dt>
            <dd>
              {connection.mode === 'kubeconfig'
                ? t('clusters.wizard.reviewKubeconfig', { ctx: connection.context, server: chosen?.server ?? '' })
                : t('clusters.wizard.reviewUrl', {
                    server: connection.server,
                    auth: connection.auth === 'token' ? t('clusters.wizard.authToken') : t('clusters.wizard.authCert'),
                  })}
            </dd>
          </dl>
        )}
        <div className="wizard-buttons">
          {step > 0 && (
            <button type="button" className="btn" data-testid="wizard-back" onClick={() => setStep((step - 1) as Step)}>
              ← {t('common.back')}
            </button>
          )}
          <span className="spacer" />
          <Link to="/clusters" className="btn">
            {t('common.cancel')}
          </Link>
          {step < 2 ? (
            <button type="submit" className="btn btn-primary" data-testid="wizard-next" disabled={!canNext}>
              {t('common.next')} →
            </button>
          ) : (
            <button type="submit" className="btn btn-primary" data-testid="wizard-submit" disabled={register.isPending}>
              {register.isPending ? t('clusters.wizard.submitting') : t('clusters.wizard.submit')}
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
