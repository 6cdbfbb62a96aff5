/**
 * Create or edit an identity provider: name and kind (fixed once created), display name,
 * enabled, the kind's settings, and the secret (OIDC client secret / LDAP bind password).
 * The secret is write-only: the dialog only knows whether one is stored. Left empty it is sent
 * as nothing ("unchanged"); typed, it replaces the stored one; "Remove" sends "" to clear it.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiError } from '../api/errors';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { FormField } from '../components/FormField';
import { apiErrorText } from '../lib/messages';
import { CONFIG_FIELDS, configToForm, formToConfig, type ConfigForm } from './fields';
import { useSaveProvider } from './queries';
import { PROVIDER_KINDS, type IdentityProvider, type ProviderBody, type ProviderKind } from './types';

/** A field's errors whether the server keys them `config.issuer`, `issuer` or nests them. */
function configErrors(error: ApiError | null, key: string): string[] {
  if (!error) return [];
  return [...error.forField(`config.${key}`), ...error.forField(key)];
}

const TOP_FIELDS = ['name', 'display_name', 'kind', 'enabled', 'secret', 'config'];

export function ProviderDialog({ provider, onClose }: { provider: IdentityProvider | null; onClose: () => void }) {
  const { t } = useTranslation();
  const save = useSaveProvider();
  const [kind, setKind] = useState<ProviderKind>(provider?.kind ?? 'oidc');
  const [name, setName] = useState(provider?.name ?? '');
  const [displayName, setDisplayName] = useState(provider?.display_name ?? '');
  const [enabled, setEnabled] = useState(provider?.enabled ?? true);
  const [forms, setForms] = useState<Record<ProviderKind, ConfigForm>>(() => ({
    oidc: configToForm('oidc', provider?.kind === 'oidc' ? provider.config : {}),
    ldap: configToForm('ldap', provider?.kind === 'ldap' ? provider.config : {}),
  }));
  const [secret, setSecret] = useState('');
  const [clearSecret, setClearSecret] = useState(false);
  const form = forms[kind];
  const setField = (key: string, value: string | boolean) => setForms((f) => ({ ...f, [kind]: { ...f[kind], [key]: value } }));
  const error = save.error;
  const known = new Set([...TOP_FIELDS, ...CONFIG_FIELDS[kind].flatMap((f) => [f.key, `config.${f.key}`])]);
  const otherErrors = error
    ? Object.entries(error.fieldErrors)
        .filter(([f]) => !known.has(f) || f === 'config')
        .flatMap(([f, m]) => m.map((msg) => (f === 'config' || f === 'non_field_errors' ? msg : `${f}: ${msg}`)))
    : [];
  const secretLabel = kind === 'oidc' ? t('identity.field.clientSecret') : t('identity.field.bindPassword');

  const submit = () => {
    const body: ProviderBody = { display_name: displayName.trim(), enabled, config: formToConfig(kind, form) };
    if (provider === null) {
      body.name = name.trim();
      body.kind = kind;
    }
    if (secret) body.secret = secret;
    else if (clearSecret) body.secret = '';
    save.mutate({ id: provider?.id ?? null, body }, { onSuccess: onClose });
  };

  return (
    <Dialog
      title={provider ? t('identity.edit.title', { name: provider.name }) : t('identity.create.title')}
      onClose={onClose}
      testId="provider-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={save.isPending}
          disabled={provider === null && !name.trim()}
          label={provider ? undefined : t('identity.create.submit')}
          testId="provider-submit"
          form="provider-form"
        />
      }
    >
      <form
        id="provider-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        {error && (
          <div className="alert alert-error" role="alert" data-testid="provider-error">
            <div>
              {apiErrorText(t, error)}
              {otherErrors.map((m) => (
                <div key={m}>{m}</div>
              ))}
            </div>
          </div>
        )}
        <div className="form-row">
          <FormField label={t('identity.field.name')} errors={error?.forField('name') ?? []}>
            <input
              name="name"
              autoComplete="off"
              value={name}
              disabled={provider !== null}
              placeholder="corp-sso"
              onChange={(e) => setName(e.target.value)}
            />
          </FormField>
          <FormField label={t('identity.field.kind')} errors={error?.forField('kind') ?? []}>
            <select
              name="kind"
              value={kind}
              disabled={provider !== null}
              onChange={(e) => setKind(PROVIDER_KINDS.find((k) => k === e.target.value) ?? 'oidc')}
            >
              {PROVIDER_KINDS.map((k) => (
                <option key={k} value={k}>
                  {t(`identity.kind.${k}`)}
                </option>
              ))}
            </select>
          </FormField>
        </div>
        <FormField label={t('identity.field.displayName')} errors={error?.forField('display_name') ?? []}>
          <input name="display_name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
        </FormField>
        <label className="checkbox">
          <input type="checkbox" name="enabled" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
          {t('identity.field.enabled')}
        </label>
        <fieldset className="identity-config" data-testid={`config-${kind}`}>
          <legend>{t('identity.settings')}</legend>
          {CONFIG_FIELDS[kind].map((field) => {
            const label = t(`identity.config.${field.key}`);
            const errors = configErrors(error, field.key);
            if (field.type === 'bool') {
              return (
                <label key={field.key} className="checkbox">
                  <input type="checkbox" name={field.key} checked={form[field.key] === true} onChange={(e) => setField(field.key, e.target.checked)} />
                  {label}
                </label>
              );
            }
            const value = String(form[field.key] ?? '');
            return (
              <FormField key={field.key} label={field.required ? `${label} *` : label} errors={errors}>
                {field.type === 'pem' ? (
                  <textarea
                    name={field.key}
                    rows={4}
                    className="mono"
                    placeholder="-----BEGIN CERTIFICATE-----"
                    value={value}
                    onChange={(e) => setField(field.key, e.target.value)}
                  />
                ) : (
                  <input name={field.key} className={field.type === 'list' ? undefined : 'mono'} value={value} onChange={(e) => setField(field.key, e.target.value)} />
                )}
              </FormField>
            );
          })}
          {kind === 'oidc' && (
            <p className="muted" data-testid="redirect-uri">
              {t('identity.redirectUri', { uri: `${window.location.origin}/api/auth/oidc/${name.trim() || '<name>'}/callback/` })}
            </p>
          )}
        </fieldset>
        <FormField label={secretLabel} errors={error?.forField('secret') ?? []}>
          <input
            name="secret"
            type="password"
            autoComplete="new-password"
            value={secret}
            disabled={clearSecret}
            placeholder={provider?.has_secret ? t('identity.secret.unchangedPlaceholder') : ''}
            onChange={(e) => setSecret(e.target.value)}
          />
        </FormField>
        <p className="muted" data-testid="secret-state">
          {provider?.has_secret
            ? clearSecret
              ? t('identity.secret.willClear')
              : secret
                ? t('identity.secret.willReplace')
                : t('identity.secret.unchanged')
            : secret
              ? t('identity.secret.willSet')
              : t('identity.secret.notSet')}
          {provider?.has_secret && (
            <>
              {' '}
              <button
                type="button"
                className="btn btn-small"
                data-testid="secret-clear"
                onClick={() => {
                  setSecret('');
                  setClearSecret((v) => !v);
                }}
              >
                {clearSecret ? t('identity.secret.keep') : t('identity.secret.clear')}
              </button>
            </>
          )}
        </p>
      </form>
    </Dialog>
  );
}
