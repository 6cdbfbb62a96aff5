/**
 * /provisioning/templates — cluster templates per infrastructure provider (versioned; archived ones
 * hidden unless asked), and /provisioning/templates/:id — one version: its files, its parameters
 * form (the catalog's values form, rendered on the server on request), a new version, archive.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ValuesForm } from '../catalog/ValuesForm';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { apiErrorText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { provisioningApi } from './api';
import { ProviderName, SectionTabs, When } from './common';
import { useArchiveTemplate, useProvisioningAccess, useSaveTemplate, useTemplate, useTemplates } from './queries';
import { PROVIDERS, type RenderedObject, type TemplateDetail } from './types';

/** The template's files as editable name/content pairs. */
function FilesEditor({ files, onChange, errors }: { files: [string, string][]; onChange: (files: [string, string][]) => void; errors: string[] }) {
  const { t } = useTranslation();
  return (
    <fieldset className="form-stack" data-testid="template-files">
      <legend>{t('provisioning.templates.files')}</legend>
      <p className="small muted">{t('provisioning.templates.filesHelp')}</p>
      {files.map(([name, content], i) => (
        <div key={i} className="form-stack card" data-testid={`template-file-${i}`}>
          <FormField label={t('provisioning.templates.fileName')}>
            <input className="mono" autoComplete="off" value={name} onChange={(e) => onChange(files.map((f, j) => (j === i ? [e.target.value, f[1]] : f)))} />
          </FormField>
          <FormField label={t('provisioning.templates.fileContent')}>
            <textarea className="mono" rows={8} spellCheck={false} value={content} onChange={(e) => onChange(files.map((f, j) => (j === i ? [f[0], e.target.value] : f)))} />
          </FormField>
          <div>
            <button type="button" className="btn btn-small" onClick={() => onChange(files.filter((_, j) => j !== i))}>
              {t('provisioning.templates.removeFile', { name: name || String(i + 1) })}
            </button>
          </div>
        </div>
      ))}
      <div>
        <button type="button" className="btn btn-small" data-testid="template-add-file" onClick={() => onChange([...files, ['', '']])}>
          {t('provisioning.templates.addFile')}
        </button>
      </div>
      {errors.length > 0 && (
        <ul className="field-errors" role="alert">
          {errors.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}

/** A new template (from nothing) or a new version of `from`. */
function TemplateDialog({ from, onClose }: { from?: TemplateDetail; onClose: () => void }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const save = useSaveTemplate();
  const [name, setName] = useState(from?.name ?? '');
  const [provider, setProvider] = useState<string>(from?.provider ?? 'sandbox');
  const [displayName, setDisplayName] = useState(from?.display_name ?? '');
  const [description, setDescription] = useState(from?.description ?? '');
  const [files, setFiles] = useState<[string, string][]>(() =>
    from ? Object.entries(from.files) : [['values.yaml', ''], ['templates/cluster.yaml', '']],
  );
  const errors = save.error?.fieldErrors ?? {};
  const fileErrors = Object.entries(errors)
    .filter(([k]) => k === 'files' || k.startsWith('files.'))
    .flatMap(([k, msgs]) => msgs.map((m) => (k === 'files' ? m : `${k.slice(6)}: ${m}`)));
  const known = new Set(['name', 'provider', 'display_name', 'description']);
  const other = save.error && fileErrors.length === 0 && !Object.keys(errors).some((k) => known.has(k));
  return (
    <Dialog
      title={from ? t('provisioning.templates.newVersionTitle', { name: from.name }) : t('provisioning.templates.newTitle')}
      onClose={onClose}
      testId="template-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={save.isPending}
          label={from ? t('provisioning.templates.saveVersion') : t('provisioning.templates.create')}
          testId="template-save"
          form="template-form"
        />
      }
    >
      <form
        id="template-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          const body = Object.fromEntries(files.filter(([n]) => n.trim()).map(([n, c]) => [n.trim(), c]));
          save.mutate(
            { from: from?.id, name: name.trim(), provider, display_name: displayName, description, files: body },
            { onSuccess: (row) => { onClose(); navigate(`/provisioning/templates/${row.id}`); } },
          );
        }}
      >
        {!from && (
          <>
            <FormField label={t('provisioning.templates.name')} errors={errors.name}>
              <input name="name" className="mono" autoComplete="off" data-testid="template-name" value={name} onChange={(e) => setName(e.target.value)} />
            </FormField>
            <FormField label={t('provisioning.templates.provider')} errors={errors.provider}>
              <select name="provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
                {PROVIDERS.map((p) => (
                  <option key={p} value={p}>
                    {t(`provisioning.provider.${p}`)}
                  </option>
                ))}
              </select>
            </FormField>
            <FormField label={t('provisioning.templates.displayName')} errors={errors.display_name}>
              <input name="display_name" autoComplete="off" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
            </FormField>
          </>
        )}
        <FormField label={t('provisioning.templates.description')} errors={errors.description}>
          <textarea name="description" rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
        </FormField>
        <FilesEditor files={files} onChange={setFiles} errors={fileErrors} />
        {other && (
          <p className="alert alert-error" role="alert">
            {apiErrorText(t, save.error)}
          </p>
        )}
      </form>
    </Dialog>
  );
}

export function TemplatesPage() {
  const { t } = useTranslation();
  const access = useProvisioningAccess();
  const [provider, setProvider] = useState('');
  const [archived, setArchived] = useState(false);
  const list = useTemplates({ ...(provider ? { provider } : {}), ...(archived ? { archived: true } : {}) });
  const [creating, setCreating] = useState(false);
  const rows = list.data ?? [];
  return (
    <section className="page page-wide" data-testid="templates-page">
      <header className="page-header page-header-row">
        <h1>{t('provisioning.sections.templates')}</h1>
        {access.isAdmin && (
          <button type="button" className="btn btn-primary" data-testid="new-template" onClick={() => setCreating(true)}>
            {t('provisioning.templates.new')}
          </button>
        )}
      </header>
      <SectionTabs />
      <div className="filters">
        <FormField label={t('provisioning.col.provider')}>
          <select name="provider" data-testid="templates-provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
            <option value="">—</option>
            {PROVIDERS.map((p) => (
              <option key={p} value={p}>
                {t(`provisioning.provider.${p}`)}
              </option>
            ))}
          </select>
        </FormField>
        <label className="checkbox">
          <input type="checkbox" data-testid="templates-archived" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> {t('provisioning.templates.showArchived')}
        </label>
      </div>
      {list.isPending && <Loading />}
      {list.isError && <ErrorState error={list.error} onRetry={() => void list.refetch()} />}
      {list.data && rows.length === 0 && <EmptyState title={t('provisioning.templates.empty')} testId="templates-empty" />}
      {rows.length > 0 && (
        <div className="card table-scroll">
          <table className="table" data-testid="templates-table">
            <caption className="visually-hidden">{t('provisioning.sections.templates')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('provisioning.col.name')}</th>
                <th scope="col">{t('provisioning.col.templateVersion')}</th>
                <th scope="col">{t('provisioning.col.provider')}</th>
                <th scope="col">{t('provisioning.col.clusters')}</th>
                <th scope="col">{t('provisioning.col.created')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((x) => (
                <tr key={x.id} data-testid={`template-${x.name}-v${x.version}`} data-archived={String(x.archived)}>
                  <th scope="row">
                    <Link to={`/provisioning/templates/${x.id}`}>{x.display_name || x.name}</Link>{' '}
                    <span className="mono small muted">{x.name}</span>
                    {x.builtin && <span className="badge tone-neutral">{t('provisioning.templates.builtin')}</span>}
                    {x.archived && <span className="badge tone-warn">{t('provisioning.templates.archived')}</span>}
                  </th>
                  <td>{t('provisioning.templates.version', { version: x.version })}</td>
                  <td>
                    <ProviderName provider={x.provider} />
                  </td>
                  <td className="num">{x.clusters_count}</td>
                  <td className="small">
                    <When iso={x.created} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && <TemplateDialog onClose={() => setCreating(false)} />}
    </section>
  );
}

/** Parameters form of a template, rendered on the server on request (what the wizard will create). */
function TryRender({ template }: { template: TemplateDetail }) {
  const { t } = useTranslation();
  const [values, setValues] = useState<Record<string, unknown>>({});
  const [name, setName] = useState('example');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [objects, setObjects] = useState<RenderedObject[] | null>(null);
  const fieldErrors = error instanceof ApiError ? parameterErrors(error) : {};
  return (
    <div className="form-stack" data-testid="template-parameters">
      <ValuesForm key={template.id} fields={template.form} values={values} onChange={setValues} errors={fieldErrors} />
      <div className="wizard-buttons">
        <FormField label={t('provisioning.templates.renderName')}>
          <input className="mono" autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
        </FormField>
        <button
          type="button"
          className="btn"
          data-testid="template-render"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            setError(null);
            provisioningApi
              .renderTemplate(template.id, { name, parameters: values })
              .then((r) => setObjects(r.objects))
              .catch((e: unknown) => {
                setObjects(null);
                setError(e);
              })
              .finally(() => setBusy(false));
          }}
        >
          {t('provisioning.templates.tryRender')}
        </button>
      </div>
      {error !== null && Object.keys(fieldErrors).length === 0 && (
        <p className="alert alert-error" role="alert">
          {apiErrorText(t, error)}
        </p>
      )}
      {objects && <ObjectsList objects={objects} caption={t('provisioning.templates.rendered')} />}
    </div>
  );
}

/** `errors` of a 400 `template_parameters_invalid`, keyed as the values form places them (`values.<path>`). */
export function parameterErrors(error: ApiError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, messages] of Object.entries(error.fieldErrors)) {
    const path = key.replace(/^(parameters|values)\.?/, '');
    out[path ? `values.${path}` : 'values'] = messages;
  }
  return out;
}

export function ObjectsList({ objects, caption }: { objects: RenderedObject[]; caption: string }) {
  const { t } = useTranslation();
  return (
    <table className="table" data-testid="rendered-objects">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t('provisioning.col.kind')}</th>
          <th scope="col">{t('provisioning.col.name')}</th>
          <th scope="col">{t('provisioning.col.namespace')}</th>
        </tr>
      </thead>
      <tbody>
        {objects.map((o) => (
          <tr key={`${o.apiVersion}/${o.kind}/${o.namespace ?? ''}/${o.name}`} data-testid={`object-${o.kind}-${o.name}`}>
            <td>
              {o.kind} <span className="small muted mono">{o.apiVersion}</span>
            </td>
            <td className="mono">{o.name}</td>
            <td className="mono small">{o.namespace || '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TemplatePage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const access = useProvisioningAccess();
  const template = useTemplate(id);
  const archive = useArchiveTemplate(id);
  const [dialog, setDialog] = useState<'version' | 'archive' | null>(null);
  if (!Number.isInteger(id) || (template.error instanceof ApiError && template.error.status === 404)) return <NotFound />;
  const x = template.data;
  return (
    <section className="page page-wide" data-testid="template-page">
      <p className="muted small breadcrumbs">
        <Link to="/provisioning/templates">{t('provisioning.sections.templates')}</Link> / {x ? `${x.name} v${x.version}` : id}
      </p>
      {template.isPending && <Loading />}
      {template.isError && <ErrorState error={template.error} onRetry={() => void template.refetch()} />}
      {x && (
        <>
          <section className="card cluster-header" data-archived={String(x.archived)}>
            <header className="page-header page-header-row">
              <h1>
                {x.display_name || x.name} <span className="muted">{t('provisioning.templates.version', { version: x.version })}</span>
              </h1>
              {access.isAdmin && (
                <div className="header-actions">
                  <button type="button" className="btn btn-small" data-testid="template-new-version" onClick={() => setDialog('version')}>
                    {t('provisioning.templates.newVersion')}
                  </button>
                  {x.archived ? (
                    <button type="button" className="btn btn-small" data-testid="template-unarchive" disabled={archive.isPending} onClick={() => archive.mutate(false)}>
                      {t('provisioning.templates.unarchive')}
                    </button>
                  ) : (
                    <button type="button" className="btn btn-small btn-danger-outline" data-testid="template-archive" onClick={() => setDialog('archive')}>
                      {t('provisioning.templates.archive')}
                    </button>
                  )}
                </div>
              )}
            </header>
            <p>
              <span className="mono">{x.name}</span> · <ProviderName provider={x.provider} /> · {t('provisioning.templates.clustersCount', { count: x.clusters_count })}
              {x.builtin && <span className="badge tone-neutral">{t('provisioning.templates.builtin')}</span>}
              {x.archived && <span className="badge tone-warn">{t('provisioning.templates.archived')}</span>}
            </p>
            {x.description && <p className="small">{x.description}</p>}
          </section>
          <section className="card" aria-labelledby="template-params-title">
            <h2 id="template-params-title">{t('provisioning.templates.parameters')}</h2>
            <TryRender template={x} />
          </section>
          <section className="card" aria-labelledby="template-files-title" data-testid="template-files-view">
            <h2 id="template-files-title">{t('provisioning.templates.files')}</h2>
            {Object.entries(x.files).map(([name, content]) => (
              <details key={name} data-testid={`file-${name}`}>
                <summary className="mono">{name}</summary>
                <pre className="code-block">{content}</pre>
              </details>
            ))}
          </section>
          {dialog === 'version' && <TemplateDialog from={x} onClose={() => setDialog(null)} />}
          {dialog === 'archive' && (
            <ConfirmDialog
              title={t('provisioning.templates.archiveTitle', { name: x.name, version: x.version })}
              message={t('provisioning.templates.archiveMessage')}
              confirmLabel={t('provisioning.templates.archive')}
              busyLabel={t('provisioning.templates.archive')}
              busy={archive.isPending}
              error={archive.error}
              submitTestId="template-archive-submit"
              onConfirm={() => archive.mutate(true, { onSuccess: () => setDialog(null) })}
              onCancel={() => setDialog(null)}
            />
          )}
        </>
      )}
    </section>
  );
}
