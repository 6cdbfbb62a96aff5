/**
 * The two halves of a cluster's registration, shared by the wizard and the edit dialogs:
 * metadata (name, provider, stage, labels …) and connection (kubeconfig + context, or URL + CA +
 * token / client certificate). Each takes the server's field errors and shows them in place.
 */
import { useId, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { FieldErrors } from '../components/FieldErrors';
import { FormField } from '../components/FormField';
import { apiErrorText } from '../lib/messages';
import { useKubeconfigContexts } from './queries';
import {
  PROVIDERS,
  STAGES,
  type ClusterMetadata,
  type ConnectionBody,
  type KubeconfigContexts,
  type Provider,
  type Stage,
} from './types';

export type FieldErrorMap = Record<string, string[]>;
const errs = (errors: FieldErrorMap, field: string) => errors[field] ?? [];

// --- metadata --------------------------------------------------------------------

export interface LabelRow {
  key: string;
  value: string;
}

export interface MetadataDraft {
  name: string;
  display_name: string;
  description: string;
  provider: Provider;
  region: string;
  stage: Stage;
  labels: LabelRow[];
}

export const EMPTY_METADATA: MetadataDraft = {
  name: '',
  display_name: '',
  description: '',
  provider: 'onprem',
  region: '',
  stage: 'dev',
  labels: [],
};

export const METADATA_FIELDS = ['name', 'display_name', 'description', 'provider', 'region', 'stage', 'labels'];

export function labelsObject(rows: LabelRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const row of rows) if (row.key.trim()) out[row.key.trim()] = row.value.trim();
  return out;
}

export function metadataBody(draft: MetadataDraft): ClusterMetadata {
  return {
    display_name: draft.display_name.trim(),
    description: draft.description.trim(),
    provider: draft.provider,
    region: draft.region.trim(),
    stage: draft.stage,
    labels: labelsObject(draft.labels),
  };
}

export const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function MetadataFields({
  value,
  onChange,
  errors,
  nameEditable,
}: {
  value: MetadataDraft;
  onChange: (next: MetadataDraft) => void;
  errors: FieldErrorMap;
  nameEditable: boolean;
}) {
  const { t } = useTranslation();
  const set = <K extends keyof MetadataDraft>(key: K, v: MetadataDraft[K]) => onChange({ ...value, [key]: v });
  const labelsId = useId();
  const setLabel = (index: number, patch: Partial<LabelRow>) =>
    set(
      'labels',
      value.labels.map((row, i) => (i === index ? { ...row, ...patch } : row)),
    );
  const nameInvalid = nameEditable && value.name !== '' && !DNS1123.test(value.name);
  return (
    <div className="form-grid">
      {nameEditable && (
        <FormField
          label={t('clusters.field.name')}
          errors={[...errs(errors, 'name'), ...(nameInvalid ? [t('clusters.wizard.nameRule')] : [])]}
        >
          <input
            name="name"
            required
            maxLength={63}
            autoComplete="off"
            spellCheck={false}
            value={value.name}
            placeholder="seoul-prod"
            onChange={(e) => set('name', e.target.value)}
          />
        </FormField>
      )}
      <FormField label={t('clusters.field.displayName')} errors={errs(errors, 'display_name')}>
        <input name="display_name" maxLength={200} value={value.display_name} onChange={(e) => set('display_name', e.target.value)} />
      </FormField>
      <FormField label={t('clusters.field.provider')} errors={errs(errors, 'provider')}>
        <select
          name="provider"
          value={value.provider}
          onChange={(e) => set('provider', PROVIDERS.find((p) => p === e.target.value) ?? 'other')}
        >
          {PROVIDERS.map((p) => (
            <option key={p} value={p}>
              {t(`clusters.provider.${p}`)}
            </option>
          ))}
        </select>
      </FormField>
      <FormField label={t('clusters.field.region')} errors={errs(errors, 'region')}>
        <input name="region" maxLength={64} value={value.region} placeholder="ap-northeast-2" onChange={(e) => set('region', e.target.value)} />
      </FormField>
      <FormField label={t('clusters.field.stage')} errors={errs(errors, 'stage')}>
        <select name="stage" value={value.stage} onChange={(e) => set('stage', STAGES.find((s) => s === e.target.value) ?? 'dev')}>
          {STAGES.map((s) => (
            <option key={s} value={s}>
              {t(`clusters.stage.${s}`)}
            </option>
          ))}
        </select>
      </FormField>
      <div className="field-wide">
        <FormField label={t('clusters.field.description')} errors={errs(errors, 'description')}>
          <textarea name="description" rows={2} value={value.description} onChange={(e) => set('description', e.target.value)} />
        </FormField>
      </div>
      <fieldset className="field field-wide labels-editor" aria-describedby={`${labelsId}-errors`} data-testid="labels-editor">
        <legend>{t('clusters.field.labels')}</legend>
        {value.labels.map((row, index) => (
          <div className="label-row" key={index}>
            <input
              aria-label={t('clusters.field.labelKey')}
              placeholder={t('clusters.field.labelKey')}
              data-testid={`label-key-${index}`}
              value={row.key}
              onChange={(e) => setLabel(index, { key: e.target.value })}
            />
            <span aria-hidden="true">=</span>
            <input
              aria-label={t('clusters.field.labelValue')}
              placeholder={t('clusters.field.labelValue')}
              data-testid={`label-value-${index}`}
              value={row.value}
              onChange={(e) => setLabel(index, { value: e.target.value })}
            />
            <button
              type="button"
              className="btn btn-small"
              aria-label={t('clusters.field.removeLabel')}
              onClick={() => set('labels', value.labels.filter((_, i) => i !== index))}
            >
              ✕
            </button>
          </div>
        ))}
        <button
          type="button"
          className="btn btn-small"
          data-testid="add-label"
          onClick={() => set('labels', [...value.labels, { key: '', value: '' }])}
        >
          + {t('clusters.field.addLabel')}
        </button>
        <FieldErrors id={`${labelsId}-errors`} messages={errs(errors, 'labels')} />
      </fieldset>
    </div>
  );
}

// --- connection ------------------------------------------------------------------

export interface ConnectionDraft {
  mode: 'kubeconfig' | 'url';
  kubeconfig: string;
  fileName: string;
  contexts: KubeconfigContexts | null;
  context: string;
  server: string;
  ca_pem: string;
  auth: 'token' | 'cert';
  token: string;
  client_certificate: string;
  client_key: string;
}

export const EMPTY_CONNECTION: ConnectionDraft = {
  mode: 'kubeconfig',
  kubeconfig: '',
  fileName: '',
  contexts: null,
  context: '',
  server: '',
  ca_pem: '',
  auth: 'token',
  token: '',
  client_certificate: '',
  client_key: '',
};

export const CONNECTION_FIELDS = [
  'kubeconfig',
  'context',
  'server',
  'ca_pem',
  'token',
  'client_certificate',
  'client_key',
  'insecure_skip_tls_verify',
  'allow_insecure',
];

export function connectionBody(draft: ConnectionDraft): ConnectionBody {
  // insecure_skip_tls_verify is never offered here: the server refuses it unless an admin
  // explicitly allows it through the API.
  const flags = { insecure_skip_tls_verify: false, allow_insecure: false };
  if (draft.mode === 'kubeconfig') {
    return draft.context
      ? { ...flags, kubeconfig: draft.kubeconfig, context: draft.context }
      : { ...flags, kubeconfig: draft.kubeconfig };
  }
  const body: ConnectionBody = { ...flags, server: draft.server.trim(), ca_pem: draft.ca_pem.trim() };
  if (draft.auth === 'token') body.token = draft.token.trim();
  else {
    body.client_certificate = draft.client_certificate.trim();
    body.client_key = draft.client_key.trim();
  }
  return body;
}

/** Whether the connection step has what the server needs to try (it checks the rest). */
export function connectionComplete(draft: ConnectionDraft): boolean {
  if (draft.mode === 'kubeconfig') return draft.kubeconfig.trim() !== '' && draft.contexts !== null && draft.context !== '';
  if (!draft.server.trim()) return false;
  return draft.auth === 'token' ? draft.token.trim() !== '' : draft.client_certificate.trim() !== '' && draft.client_key.trim() !== '';
}

/** A file's text through FileReader (works in every browser and in jsdom, unlike Blob.text()). */
export function readText(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(typeof reader.result === 'string' ? reader.result : '');
    reader.onerror = () => reject(reader.error ?? new Error('read failed'));
    reader.readAsText(file);
  });
}

function Radio({ name, value, checked, onChange, testId, children }: {
  name: string;
  value: string;
  checked: boolean;
  onChange: () => void;
  testId: string;
  children: ReactNode;
}) {
  return (
    <label className="radio">
      <input type="radio" name={name} value={value} checked={checked} onChange={onChange} data-testid={testId} />
      {children}
    </label>
  );
}

export function ConnectionFields({
  value,
  onChange,
  errors,
}: {
  value: ConnectionDraft;
  onChange: (next: ConnectionDraft) => void;
  errors: FieldErrorMap;
}) {
  const { t } = useTranslation();
  const contexts = useKubeconfigContexts();
  const [readError, setReadError] = useState<string | null>(null);
  const set = (patch: Partial<ConnectionDraft>) => onChange({ ...value, ...patch });
  const contextErrors = contexts.error?.fieldErrors ?? {};
  const kubeconfigErrors = [
    ...errs(errors, 'kubeconfig'),
    ...errs(contextErrors, 'kubeconfig'),
    ...(contexts.error && Object.keys(contextErrors).length === 0 ? [apiErrorText(t, contexts.error)] : []),
  ];

  const readContexts = (kubeconfig: string, base: ConnectionDraft) => {
    if (!kubeconfig.trim()) return;
    contexts.mutate(kubeconfig, {
      onSuccess: (result) =>
        onChange({
          ...base,
          kubeconfig,
          contexts: result,
          context: result.current ?? result.contexts[0]?.name ?? '',
        }),
    });
  };

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setReadError(null);
    try {
      const text = await readText(file);
      const next = { ...value, kubeconfig: text, fileName: file.name, contexts: null, context: '' };
      onChange(next);
      readContexts(text, next);
    } catch {
      setReadError(t('clusters.wizard.fileUnreadable'));
    }
  };

  const chosen = value.contexts?.contexts.find((c) => c.name === value.context);
  return (
    <div className="connection">
      <div className="radio-group" role="radiogroup" aria-label={t('clusters.wizard.connectWith')}>
        <Radio name="mode" value="kubeconfig" checked={value.mode === 'kubeconfig'} onChange={() => set({ mode: 'kubeconfig' })} testId="mode-kubeconfig">
          {t('clusters.wizard.modeKubeconfig')}
        </Radio>
        <Radio name="mode" value="url" checked={value.mode === 'url'} onChange={() => set({ mode: 'url' })} testId="mode-url">
          {t('clusters.wizard.modeUrl')}
        </Radio>
      </div>

      {value.mode === 'kubeconfig' ? (
        <div className="form-stack">
          <div className="field">
            <label htmlFor="kubeconfig-file">{t('clusters.wizard.uploadFile')}</label>
            <input
              id="kubeconfig-file"
              type="file"
              data-testid="kubeconfig-file"
              accept=".yaml,.yml,.conf,.config,.kubeconfig,text/plain,application/x-yaml"
              onChange={(e) => void onFile(e.target.files?.[0])}
            />
            {value.fileName && <span className="muted small">{value.fileName}</span>}
            {readError && <FieldErrors id="kubeconfig-file-errors" messages={[readError]} />}
          </div>
          <FormField label={t('clusters.wizard.pasteKubeconfig')} errors={kubeconfigErrors}>
            <textarea
              name="kubeconfig"
              rows={8}
              className="mono"
              spellCheck={false}
              value={value.kubeconfig}
              placeholder="apiVersion: v1&#10;kind: Config&#10;clusters: …"
              onChange={(e) => set({ kubeconfig: e.target.value, contexts: null, context: '' })}
            />
          </FormField>
          <div>
            <button
              type="button"
              className="btn"
              data-testid="kubeconfig-read"
              disabled={!value.kubeconfig.trim() || contexts.isPending}
              onClick={() => readContexts(value.kubeconfig, value)}
            >
              {contexts.isPending ? t('clusters.wizard.reading') : t('clusters.wizard.readContexts')}
            </button>
          </div>
          {value.contexts && value.contexts.contexts.length > 0 && (
            <FormField label={t('clusters.wizard.context')} errors={errs(errors, 'context')}>
              <select name="context" data-testid="context-select" value={value.context} onChange={(e) => set({ context: e.target.value })}>
                {value.contexts.contexts.map((c) => (
                  <option key={c.name} value={c.name}>
                    {c.name}
                    {c.name === value.contexts?.current ? ` (${t('clusters.wizard.current')})` : ''}
                  </option>
                ))}
              </select>
            </FormField>
          )}
          {value.contexts && value.contexts.contexts.length === 0 && (
            <p className="alert alert-warning">{t('clusters.wizard.noContexts')}</p>
          )}
          {chosen && (
            <dl className="kv small" data-testid="context-details">
              <dt>{t('clusters.wizard.server')}</dt>
              <dd className="mono">{chosen.server}</dd>
              <dt>{t('clusters.wizard.kubeCluster')}</dt>
              <dd className="mono">{chosen.cluster}</dd>
              <dt>{t('clusters.wizard.user')}</dt>
              <dd className="mono">{chosen.user}</dd>
            </dl>
          )}
        </div>
      ) : (
        <div className="form-stack">
          <FormField label={t('clusters.wizard.server')} errors={errs(errors, 'server')}>
            <input name="server" type="url" placeholder="https://10.0.0.1:6443" value={value.server} onChange={(e) => set({ server: e.target.value })} />
          </FormField>
          <FormField label={t('clusters.wizard.caPem')} errors={errs(errors, 'ca_pem')}>
            <textarea
              name="ca_pem"
              rows={5}
              className="mono"
              spellCheck={false}
              placeholder="-----BEGIN CERTIFICATE-----"
              value={value.ca_pem}
              onChange={(e) => set({ ca_pem: e.target.value })}
            />
          </FormField>
          <div className="radio-group" role="radiogroup" aria-label={t('clusters.wizard.authWith')}>
            <Radio name="auth" value="token" checked={value.auth === 'token'} onChange={() => set({ auth: 'token' })} testId="auth-token">
              {t('clusters.wizard.authToken')}
            </Radio>
            <Radio name="auth" value="cert" checked={value.auth === 'cert'} onChange={() => set({ auth: 'cert' })} testId="auth-cert">
              {t('clusters.wizard.authCert')}
            </Radio>
          </div>
          {value.auth === 'token' ? (
            <FormField label={t('clusters.wizard.token')} errors={errs(errors, 'token')}>
              <textarea name="token" rows={3} className="mono" spellCheck={false} autoComplete="off" value={value.token} onChange={(e) => set({ token: e.target.value })} />
            </FormField>
          ) : (
            <>
              <FormField label={t('clusters.wizard.clientCert')} errors={errs(errors, 'client_certificate')}>
                <textarea name="client_certificate" rows={4} className="mono" spellCheck={false} value={value.client_certificate} onChange={(e) => set({ client_certificate: e.target.value })} />
              </FormField>
              <FormField label={t('clusters.wizard.clientKey')} errors={errs(errors, 'client_key')}>
                <textarea name="client_key" rows={4} className="mono" spellCheck={false} autoComplete="off" value={value.client_key} onChange={(e) => set({ client_key: e.target.value })} />
              </FormField>
            </>
          )}
        </div>
      )}
      {[...errs(errors, 'insecure_skip_tls_verify'), ...errs(errors, 'allow_insecure')].length > 0 && (
        <FieldErrors id="insecure-errors" messages={[...errs(errors, 'insecure_skip_tls_verify'), ...errs(errors, 'allow_insecure')]} />
      )}
    </div>
  );
}
