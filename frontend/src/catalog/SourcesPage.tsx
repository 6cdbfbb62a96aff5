/**
 * /catalog/sources: where packages come from. Every visible source with its status, last refresh
 * and error message; add a Helm repository or an upload source, shared (system admins) or for a
 * workspace (`servicemaps.manage` there); refresh now, a new webhook token (shown once), chart
 * upload (.tgz) for upload sources, delete (409 while releases use its packages).
 */
import { useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { apiErrorText, messageText } from '../lib/messages';
import { relativeTime, useNow } from '../clusters/format';
import { useMe } from '../auth/queries';
import { FormError } from '../workspaces/common';
import { useWorkspaces } from '../workspaces/queries';
import type { Workspace } from '../workspaces/types';
import { CatalogBadge } from './common';
import { useCreateSource, useDeleteSource, useRefreshSource, useSources, useUploadChart, useWebhookToken } from './queries';
import type { Source, WebhookToken } from './types';
import { DialogActions } from '../components/DialogActions';

const FILTERS = ['all', 'shared', 'mine'] as const;

function useManage() {
  const me = useMe();
  const workspaces = useWorkspaces({});
  const isAdmin = me.data?.is_admin === true;
  const manageable: Workspace[] = (workspaces.data?.results ?? []).filter((w) => isAdmin || w.my_grants.includes('servicemaps.manage'));
  const canManage = (source: Pick<Source, 'workspace'>) =>
    isAdmin || (source.workspace !== null && manageable.some((w) => w.id === source.workspace?.id));
  return { isAdmin, manageable, canManage };
}

function AddSourceDialog({ onClose, isAdmin, workspaces }: { onClose: () => void; isAdmin: boolean; workspaces: Workspace[] }) {
  const { t } = useTranslation();
  const create = useCreateSource();
  const [form, setForm] = useState({
    name: '',
    kind: 'helm' as 'helm' | 'upload',
    scope: isAdmin ? 'shared' : String(workspaces[0]?.id ?? ''),
    url: '',
    username: '',
    password: '',
    ca_pem: '',
    refresh_minutes: '60',
  });
  const set = (patch: Partial<typeof form>) => setForm((f) => ({ ...f, ...patch }));
  const err = (f: string) => create.error?.forField(f) ?? [];
  const helm = form.kind === 'helm';
  return (
    <Dialog
      title={t('catalog.sources.add')}
      onClose={onClose}
      testId="add-source-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={create.isPending}
          disabled={!form.name.trim()}
          label={t('catalog.sources.addSubmit')}
          testId="add-source-submit"
          form="add-source-form"
        />
      }
    >
      <form
        id="add-source-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate(
            {
              name: form.name.trim(),
              kind: form.kind,
              workspace: form.scope === 'shared' ? null : Number(form.scope),
              ...(helm
                ? { url: form.url.trim(), username: form.username, password: form.password, ca_pem: form.ca_pem, refresh_minutes: Number(form.refresh_minutes || 0) }
                : {}),
            },
            { onSuccess: onClose },
          );
        }}
      >
        <FormError error={create.error} fields={['name', 'kind', 'workspace', 'url', 'username', 'password', 'ca_pem', 'refresh_minutes']} testId="source-error" />
        <FormField label={t('catalog.sources.name')} errors={err('name')}>
          <input name="name" className="mono" autoComplete="off" value={form.name} onChange={(e) => set({ name: e.target.value })} />
        </FormField>
        <FormField label={t('catalog.sources.kind')} errors={err('kind')}>
          <select name="kind" value={form.kind} onChange={(e) => set({ kind: e.target.value === 'upload' ? 'upload' : 'helm' })}>
            <option value="helm">{t('catalog.sources.kinds.helm')}</option>
            <option value="upload">{t('catalog.sources.kinds.upload')}</option>
          </select>
        </FormField>
        <FormField label={t('catalog.sources.scope')} errors={err('workspace')}>
          <select name="workspace" value={form.scope} onChange={(e) => set({ scope: e.target.value })}>
            {isAdmin && <option value="shared">{t('catalog.sources.sharedAdmins')}</option>}
            {workspaces.map((w) => (
              <option key={w.id} value={String(w.id)}>
                {t('catalog.card.workspace', { name: w.display_name || w.name })}
              </option>
            ))}
          </select>
        </FormField>
        {helm && (
          <>
            <FormField label={t('catalog.sources.url')} errors={err('url')}>
              <input name="url" className="mono" placeholder="https://charts.example.com" autoComplete="off" value={form.url} onChange={(e) => set({ url: e.target.value })} />
            </FormField>
            <div className="form-grid">
              <FormField label={t('catalog.sources.username')} errors={err('username')}>
                <input name="username" autoComplete="off" value={form.username} onChange={(e) => set({ username: e.target.value })} />
              </FormField>
              <FormField label={t('catalog.sources.password')} errors={err('password')}>
                <input name="password" type="password" autoComplete="new-password" value={form.password} onChange={(e) => set({ password: e.target.value })} />
              </FormField>
            </div>
            <FormField label={t('catalog.sources.caPem')} errors={err('ca_pem')}>
              <textarea name="ca_pem" className="mono" rows={3} value={form.ca_pem} onChange={(e) => set({ ca_pem: e.target.value })} />
            </FormField>
            <FormField label={t('catalog.sources.refreshMinutes')} errors={err('refresh_minutes')}>
              <input name="refresh_minutes" type="number" min={0} value={form.refresh_minutes} onChange={(e) => set({ refresh_minutes: e.target.value })} />
            </FormField>
            <p className="small muted">{t('catalog.sources.refreshHint')}</p>
          </>
        )}
      </form>
    </Dialog>
  );
}

function TokenDialog({ token, onClose }: { token: WebhookToken; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Dialog
      title={t('catalog.sources.webhookTitle')}
      onClose={onClose}
      testId="webhook-token-dialog"
      footer={
        <button type="button" className="btn btn-primary" onClick={onClose}>
          {t('common.close')}
        </button>
      }
    >
      <p className="alert alert-warning">{t('catalog.sources.webhookOnce')}</p>
      <p className="small">{t('catalog.sources.webhookUrl')}</p>
      <pre className="code-block wrap-any" data-testid="webhook-url">
        {token.url}
      </pre>
      <p className="small">{t('catalog.sources.webhookToken')}</p>
      <pre className="code-block wrap-any" data-testid="webhook-token-value">
        {token.token}
      </pre>
    </Dialog>
  );
}

function SourceRow({ source, canManage, onToken, onDelete }: { source: Source; canManage: boolean; onToken: (t: WebhookToken) => void; onDelete: () => void }) {
  const { t, i18n } = useTranslation();
  const now = useNow();
  const refresh = useRefreshSource();
  const token = useWebhookToken();
  const upload = useUploadChart();
  const file = useRef<HTMLInputElement>(null);
  const error = refresh.error ?? token.error ?? upload.error;
  return (
    <tr data-testid={`source-row-${source.name}`} data-status={source.status}>
      <td>
        <strong className="mono">{source.name}</strong>
        <div className="small muted">
          <Link to={`/catalog?source=${source.id}`} className="muted">
            {t('catalog.sources.packages', { count: source.package_count })}
          </Link>
        </div>
      </td>
      <td>
        {source.kind === 'helm' || source.kind === 'upload' || source.kind === 'servicemap' ? t(`catalog.sources.kinds.${source.kind}`) : source.kind}
      </td>
      <td>{source.workspace ? source.workspace.name : <span className="badge tone-ok">{t('catalog.scope.shared')}</span>}</td>
      <td className="mono small wrap-any">{source.url || '—'}</td>
      <td>
        <CatalogBadge state={source.status} testId="source-status" />
        {source.message && (
          <div className={`small ${source.status === 'error' ? 'bad-text' : 'muted'}`} data-testid="source-message">
            {messageText(t, source)}
          </div>
        )}
      </td>
      <td className="nowrap" data-testid="source-refreshed" title={source.last_refreshed ?? undefined}>
        {relativeTime(source.last_refreshed, now, i18n.language) ?? t('common.never')}
        {source.refresh_minutes > 0 && <div className="small muted">{t('catalog.sources.every', { minutes: source.refresh_minutes })}</div>}
      </td>
      <td>
        {canManage && (
          <div className="row-actions">
            {source.kind === 'helm' && (
              <>
                <button type="button" className="btn btn-small" data-testid={`refresh-source-${source.name}`} disabled={refresh.isPending} onClick={() => refresh.mutate(source.id)}>
                  {t('catalog.sources.refresh')}
                </button>
                <button
                  type="button"
                  className="btn btn-small"
                  data-testid={`webhook-token-${source.name}`}
                  disabled={token.isPending}
                  onClick={() => token.mutate(source.id, { onSuccess: onToken })}
                >
                  {t('catalog.sources.webhook')}
                </button>
              </>
            )}
            {source.kind === 'upload' && (
              <label className="btn btn-small">
                {upload.isPending ? t('catalog.sources.uploading') : t('catalog.sources.upload')}
                <input
                  ref={file}
                  type="file"
                  accept=".tgz,application/gzip,application/x-gzip"
                  className="visually-hidden"
                  data-testid={`upload-chart-${source.name}`}
                  onChange={(e) => {
                    const f = e.target.files?.[0];
                    if (f) upload.mutate({ source: source.id, file: f }, { onSettled: () => file.current && (file.current.value = '') });
                  }}
                />
              </label>
            )}
            <button type="button" className="btn btn-small btn-danger-outline" data-testid={`delete-source-${source.name}`} onClick={onDelete}>
              {t('catalog.sources.delete')}
            </button>
          </div>
        )}
        {upload.data && (
          <div className="small ok-text" role="status" data-testid="upload-result">
            {t('catalog.sources.uploaded', { name: upload.data.package?.name ?? '', version: upload.data.version })}
          </div>
        )}
        {error && (
          <div className="small bad-text" role="alert" data-testid="source-action-error">
            {[apiErrorText(t, error), ...Object.values(error.fieldErrors).flat()].join(' ')}
          </div>
        )}
      </td>
    </tr>
  );
}

export function SourcesPage() {
  const { t } = useTranslation();
  const { isAdmin, manageable, canManage } = useManage();
  const [filter, setFilter] = useState<(typeof FILTERS)[number]>('all');
  const sources = useSources(filter === 'shared' ? { workspace: 'shared' } : {});
  const [adding, setAdding] = useState(false);
  const [token, setToken] = useState<WebhookToken | null>(null);
  const [deleting, setDeleting] = useState<Source | null>(null);
  const remove = useDeleteSource();
  const rows = (sources.data?.results ?? []).filter((s) => filter !== 'mine' || s.workspace !== null);
  return (
    <section className="page page-wide" data-testid="sources-page">
      <p className="muted small breadcrumbs">
        <Link to="/catalog">{t('nav.catalog')}</Link> / {t('catalog.sources.title')}
      </p>
      <header className="page-header page-header-row">
        <div>
          <h1>{t('catalog.sources.title')}</h1>
          <p className="muted">{t('catalog.sources.intro')}</p>
        </div>
        {(isAdmin || manageable.length > 0) && (
          <button type="button" className="btn btn-primary" data-testid="add-source" onClick={() => setAdding(true)}>
            + {t('catalog.sources.add')}
          </button>
        )}
      </header>
      <nav className="tabs" aria-label={t('catalog.scope.label')}>
        {FILTERS.map((f) => (
          <button key={f} type="button" className={f === filter ? 'tab active' : 'tab'} data-testid={`sources-filter-${f}`} onClick={() => setFilter(f)}>
            {t(`catalog.scope.${f}`)}
          </button>
        ))}
      </nav>
      <section className="card">
        {sources.isPending && <Loading />}
        {sources.isError && <ErrorState error={sources.error} onRetry={() => void sources.refetch()} />}
        {sources.data && rows.length === 0 && (
          <p className="muted empty-line" data-testid="sources-empty">
            {t('catalog.sources.empty')}
          </p>
        )}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense" data-testid="sources-table">
              <thead>
                <tr>
                  <th scope="col">{t('catalog.sources.name')}</th>
                  <th scope="col">{t('catalog.sources.kind')}</th>
                  <th scope="col">{t('catalog.sources.scope')}</th>
                  <th scope="col">{t('catalog.sources.url')}</th>
                  <th scope="col">{t('catalog.sources.status')}</th>
                  <th scope="col">{t('catalog.sources.lastRefresh')}</th>
                  <th scope="col" className="actions-col">
                    <span className="visually-hidden">{t('catalog.sources.actions')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((s) => (
                  <SourceRow key={s.id} source={s} canManage={canManage(s)} onToken={setToken} onDelete={() => setDeleting(s)} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {adding && <AddSourceDialog onClose={() => setAdding(false)} isAdmin={isAdmin} workspaces={manageable} />}
      {token && <TokenDialog token={token} onClose={() => setToken(null)} />}
      {deleting && (
        <ConfirmDialog
          title={t('catalog.sources.delete')}
          message={t('catalog.sources.deleteBody', { name: deleting.name })}
          confirmLabel={t('catalog.sources.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          submitTestId="confirm-delete-source"
          onConfirm={() => remove.mutate(deleting.id, { onSuccess: () => setDeleting(null) })}
          onCancel={() => {
            remove.reset();
            setDeleting(null);
          }}
        />
      )}
    </section>
  );
}
