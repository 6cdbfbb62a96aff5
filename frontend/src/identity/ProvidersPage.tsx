/**
 * /admin/identity (system admins): the identity providers people sign in with. Create, edit
 * (kind-specific settings, write-only secret), enable/disable, delete, "test connection" (what
 * the server found at the provider), and a link to each provider's group mappings.
 */
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { apiErrorText, serverText } from '../lib/messages';
import { ProviderDialog } from './ProviderDialog';
import { useDeleteProvider, useProviders, useSaveProvider, useTestProvider } from './queries';
import type { ConnectionTest, IdentityProvider } from './types';
import './identity.css';

function show(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(show).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** What the test found: its sentence (translated by code) and every finding as a row. */
export function TestResult({ result }: { result: ConnectionTest }) {
  const { t } = useTranslation();
  const { ok, kind: _kind, code, message, params, details, ...rest } = result;
  const findings = { ...(details ?? {}), ...rest };
  const text = serverText(t, { code, params, text: message });
  return (
    <div data-testid="test-result">
      <div className={`alert ${ok ? 'alert-success' : 'alert-error'}`} role="status" data-testid="test-outcome" data-ok={ok}>
        <strong>{ok ? t('identity.test.ok') : t('identity.test.failed')}</strong>
        {text && <span> {text}</span>}
      </div>
      {Object.keys(findings).length > 0 && (
        <dl className="identity-findings" data-testid="test-findings">
          {Object.entries(findings).map(([key, value]) => (
            <div key={key}>
              <dt>{key}</dt>
              <dd className="mono">{show(value) || t('common.none')}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}

function TestDialog({ provider, onClose }: { provider: IdentityProvider; onClose: () => void }) {
  const { t } = useTranslation();
  const test = useTestProvider();
  const started = useRef(false);
  const { mutate } = test;
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    mutate(provider.id);
  }, [mutate, provider.id]);
  return (
    <Dialog
      title={t('identity.test.title', { name: provider.display_name || provider.name })}
      onClose={onClose}
      testId="test-dialog"
      footer={
        <>
          <button type="button" className="btn" disabled={test.isPending} onClick={() => test.mutate(provider.id)}>
            {t('identity.test.again')}
          </button>
          <button type="button" className="btn btn-primary" onClick={onClose}>
            {t('common.close')}
          </button>
        </>
      }
    >
      {test.isPending && <p role="status">{t('identity.test.running')}</p>}
      {test.error && (
        <div className="alert alert-error" role="alert" data-testid="test-error">
          {apiErrorText(t, test.error)}
        </div>
      )}
      {test.data && !test.isPending && <TestResult result={test.data} />}
    </Dialog>
  );
}

type DialogState =
  | { kind: 'create' }
  | { kind: 'edit' | 'test' | 'delete'; provider: IdentityProvider };

export function ProvidersPage() {
  const { t } = useTranslation();
  const providers = useProviders();
  const toggle = useSaveProvider();
  const remove = useDeleteProvider();
  const [dialog, setDialog] = useState<DialogState | null>(null);
  return (
    <section className="page" data-testid="identity-providers-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('identity.title')}</h1>
          <p className="muted">{t('identity.intro')}</p>
        </div>
        <button type="button" className="btn btn-primary" data-testid="create-provider" onClick={() => setDialog({ kind: 'create' })}>
          + {t('identity.create.title')}
        </button>
      </header>
      {toggle.error && (
        <div className="alert alert-error" role="alert" data-testid="providers-error">
          {apiErrorText(t, toggle.error)}
          <button type="button" className="btn btn-small" onClick={() => toggle.reset()}>
            {t('common.dismiss')}
          </button>
        </div>
      )}
      <section className="card">
        {providers.isPending && <Loading />}
        {providers.isError && <ErrorState error={providers.error} onRetry={() => void providers.refetch()} />}
        {providers.data && providers.data.length === 0 && <p className="muted">{t('identity.empty')}</p>}
        {providers.data && providers.data.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense" data-testid="providers-table">
              <thead>
                <tr>
                  <th scope="col">{t('identity.field.name')}</th>
                  <th scope="col">{t('identity.field.displayName')}</th>
                  <th scope="col">{t('identity.field.kind')}</th>
                  <th scope="col">{t('identity.col.address')}</th>
                  <th scope="col">{t('identity.col.secret')}</th>
                  <th scope="col">{t('identity.col.identities')}</th>
                  <th scope="col">{t('identity.col.state')}</th>
                  <th scope="col" className="actions-col">
                    {t('clusters.col.actions')}
                  </th>
                </tr>
              </thead>
              <tbody>
                {providers.data.map((p) => (
                  <tr key={p.id} data-testid={`provider-row-${p.name}`} className={p.enabled ? undefined : 'row-disabled'}>
                    <td className="mono">{p.name}</td>
                    <td>{p.display_name || t('common.none')}</td>
                    <td>{t(`identity.kind.${p.kind}`)}</td>
                    <td className="mono">{show(p.kind === 'oidc' ? p.config.issuer : p.config.server_uri) || t('common.none')}</td>
                    <td>{p.has_secret ? t('identity.secret.set') : t('identity.secret.notSet')}</td>
                    <td>{p.identities ?? t('common.none')}</td>
                    <td>
                      {p.enabled ? (
                        <span className="badge tone-ok">{t('identity.enabled')}</span>
                      ) : (
                        <span className="badge tone-bad">{t('identity.disabled')}</span>
                      )}
                    </td>
                    <td className="actions-col">
                      <div className="row-actions">
                        <button type="button" className="btn btn-small" data-testid={`edit-provider-${p.name}`} onClick={() => setDialog({ kind: 'edit', provider: p })}>
                          {t('identity.edit.button')}
                        </button>
                        <button type="button" className="btn btn-small" data-testid={`test-provider-${p.name}`} onClick={() => setDialog({ kind: 'test', provider: p })}>
                          {t('identity.test.button')}
                        </button>
                        <Link className="btn btn-small" to={`/admin/identity/${p.id}`} data-testid={`mappings-${p.name}`}>
                          {t('identity.mappings.button')}
                        </Link>
                        <button
                          type="button"
                          className="btn btn-small"
                          data-testid={`toggle-provider-${p.name}`}
                          disabled={toggle.isPending}
                          onClick={() => toggle.mutate({ id: p.id, body: { enabled: !p.enabled } })}
                        >
                          {p.enabled ? t('identity.disable') : t('identity.enable')}
                        </button>
                        <button type="button" className="btn btn-small btn-danger" data-testid={`delete-provider-${p.name}`} onClick={() => setDialog({ kind: 'delete', provider: p })}>
                          {t('identity.delete.button')}
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {dialog?.kind === 'create' && <ProviderDialog provider={null} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'edit' && <ProviderDialog provider={dialog.provider} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'test' && <TestDialog provider={dialog.provider} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={t('identity.delete.title', { name: dialog.provider.name })}
          message={t('identity.delete.message')}
          confirmLabel={t('identity.delete.confirm')}
          busyLabel={t('identity.delete.busy')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() => remove.mutate(dialog.provider.id, { onSuccess: () => setDialog(null) })}
          onCancel={() => {
            remove.reset();
            setDialog(null);
          }}
          testId="delete-provider-dialog"
        />
      )}
    </section>
  );
}
