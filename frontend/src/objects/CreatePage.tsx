/**
 * /clusters/:id/create — create (or update) objects from YAML: paste or upload one or many
 * documents, preview them (a server-side dry-run per document: whether it exists, its diff against
 * live, conflicts and errors), apply them as one ObjectAction, and see each document's result as
 * the action finishes. Nothing is applied while a document has errors.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { apiErrorText, serverText } from '../lib/messages';
import { NotFound } from '../pages/NotFound';
import { useCluster } from '../clusters/queries';
import { ObjectApiError } from './api';
import { DiffView } from './DiffView';
import { objectPath, refOfRow } from './paths';
import { isFinal, useActionEvents, useCreate, useObjectAction, usePreviewMany } from './queries';
import type { DocumentPreview, DocumentResult, LineError } from './types';
import { ConflictList, LineErrors } from './YamlTab';
import { YamlEditor } from './YamlEditor';
import './objects.css';

/** The most a file upload may add to the editor (the API limits the request body too). */
export const MAX_UPLOAD_BYTES = 1024 * 1024;

/** Several files become one stream of documents. */
export function joinDocuments(texts: string[]): string {
  return texts
    .map((text) => text.replace(/\s+$/, ''))
    .filter((text) => text.trim() !== '')
    .map((text) => (text.startsWith('---') ? text : `---\n${text}`))
    .join('\n');
}

function DocumentCard({ doc }: { doc: DocumentPreview }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(doc.errors.length === 0 && doc.changed);
  const verdict = doc.errors.length > 0 ? 'error' : doc.conflicts.length > 0 ? 'conflict' : !doc.exists ? 'create' : doc.changed ? 'update' : 'unchanged';
  return (
    <article className={`card create-doc create-doc-${verdict}`} data-testid={`create-doc-${doc.index}`} data-verdict={verdict}>
      <div className="create-doc-head">
        <span className="badge">{t(`objects.verdict.${verdict}`)}</span>
        <strong>{doc.kind || '?'}</strong>{' '}
        <span className="mono">
          {doc.namespace ? `${doc.namespace}/` : ''}
          {doc.name || '?'}
        </span>
        <span className="small muted">
          {' '}
          · {t('objects.documentN', { n: doc.index + 1 })}
        </span>
        {(doc.diff || doc.result_yaml) && (
          <button type="button" className="link-button small" onClick={() => setOpen((v) => !v)} aria-expanded={open} data-testid={`create-doc-${doc.index}-toggle`}>
            {open ? t('objects.hideDiff') : t('objects.showDiff')}
          </button>
        )}
      </div>
      {doc.errors.length > 0 && (
        <ul className="plain-list small field-error" data-testid={`create-doc-${doc.index}-errors`}>
          {doc.errors.map((e, i) => (
            <li key={i}>
              {e.line ? <span className="mono">{t('objects.lineN', { line: e.line })}: </span> : null}
              {e.field ? <span className="mono">{e.field}: </span> : null}
              {e.message}
            </li>
          ))}
        </ul>
      )}
      {doc.conflicts.length > 0 && <ConflictList conflicts={doc.conflicts} testId={`create-doc-${doc.index}-conflicts`} />}
      {open && (
        <DiffView
          before={doc.result_yaml !== undefined ? (doc.live_yaml ?? '') : undefined}
          after={doc.result_yaml}
          diff={doc.diff}
          testId={`create-doc-${doc.index}-diff`}
        />
      )}
    </article>
  );
}

/** What became of a document (clusters/object_ops.py create_objects). */
const DOC_STATUSES = ['created', 'configured', 'unchanged', 'conflict', 'failed', 'not_applied', 'pending'] as const;

function ResultRow({ clusterId, doc }: { clusterId: number; doc: DocumentResult }) {
  const { t } = useTranslation();
  const ref = doc.kind && doc.name ? refOfRow({ kind: doc.kind, namespace: doc.namespace, name: doc.name }) : null;
  const message = serverText(t, { code: doc.message_code, params: doc.message_params, text: doc.message ?? '' });
  const failed = ['failed', 'conflict', 'not_applied'].includes(doc.status) || (doc.errors?.length ?? 0) > 0;
  const known = (DOC_STATUSES as readonly string[]).includes(doc.status);
  return (
    <tr data-testid={`create-result-${doc.index}`} data-status={doc.status} className={failed ? 'row-warning' : undefined}>
      <td className="num">{doc.index + 1}</td>
      <td>{doc.kind}</td>
      <td className="mono">
        {ref && !failed ? (
          <Link to={objectPath(clusterId, ref)}>
            {doc.namespace ? `${doc.namespace}/` : ''}
            {doc.name}
          </Link>
        ) : (
          <>
            {doc.namespace ? `${doc.namespace}/` : ''}
            {doc.name}
          </>
        )}
      </td>
      <td>
        <span className={`badge ${failed ? 'badge-failure' : 'badge-success'}`}>
          {known ? t(`objects.docStatus.${doc.status as (typeof DOC_STATUSES)[number]}`) : doc.status}
        </span>
      </td>
      <td className="small wrap-any">
        {message}
        {(doc.errors ?? []).map((e, i) => (
          <div key={i} className="field-error">
            {e.field ? `${e.field}: ` : ''}
            {e.message}
          </div>
        ))}
      </td>
    </tr>
  );
}

export function CreatePage() {
  const { t } = useTranslation();
  const params = useParams();
  const [search] = useSearchParams();
  const id = Number(params.id);
  const namespace = search.get('namespace') ?? '';
  const cluster = useCluster(id);
  const [text, setText] = useState('');
  const [previewed, setPreviewed] = useState<string | null>(null);
  const [lineErrors, setLineErrors] = useState<LineError[]>([]);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [actionId, setActionId] = useState<number | null>(null);
  const preview = usePreviewMany(id, namespace);
  const create = useCreate(id, namespace);
  const action = useObjectAction(actionId);
  // The action's events go to its namespace's group (the cluster's when its documents span several).
  useActionEvents(id, action.data?.namespace ?? '', actionId !== null && !isFinal(action.data));
  if (!Number.isInteger(id)) return <NotFound />;

  const docs = previewed === text ? (preview.data?.documents ?? []) : [];
  const stale = previewed !== null && previewed !== text;
  const blocking = docs.some((d) => d.errors.length > 0);
  const conflicts = docs.some((d) => d.conflicts.length > 0);
  const results = action.data?.result?.documents ?? [];

  const runPreview = () => {
    setLineErrors([]);
    setActionId(null);
    create.reset();
    preview.mutate(text, {
      onSuccess: () => setPreviewed(text),
      onError: (error) => {
        setPreviewed(null);
        setLineErrors(error instanceof ObjectApiError ? error.lines : []);
      },
    });
  };
  const runCreate = () => {
    setLineErrors([]);
    // Documents with conflicts were shown with their managers: applying takes those fields over.
    create.mutate({ yaml: text, force: conflicts }, {
      onSuccess: (a) => setActionId(a.id),
      onError: (error) => setLineErrors(error instanceof ObjectApiError ? error.lines : []),
    });
  };
  const upload = async (files: FileList | null) => {
    setUploadError(null);
    if (!files || files.length === 0) return;
    const list = Array.from(files);
    const tooBig = list.find((f) => f.size > MAX_UPLOAD_BYTES);
    if (tooBig) {
      setUploadError(t('objects.uploadTooBig', { name: tooBig.name, max: '1 MiB' }));
      return;
    }
    const texts = await Promise.all(list.map((f) => f.text()));
    setText((current) => joinDocuments([current, ...texts]));
  };
  const requestError = preview.error ?? create.error;

  return (
    <section className="page page-wide create-page" data-testid="create-page">
      <p className="muted small breadcrumbs">
        <Link to="/clusters">{t('nav.clusters')}</Link> / <Link to={`/clusters/${id}/resources`}>{cluster.data?.name ?? id}</Link> /{' '}
        {t('objects.create')}
      </p>
      <header className="page-header">
        <h1>{t('objects.createTitle')}</h1>
        <p className="muted small">{t('objects.createHint')}</p>
      </header>
      <section className="card">
        <div className="yaml-toolbar">
          <label className="btn btn-small file-button">
            {t('objects.upload')}
            <input
              type="file"
              accept=".yaml,.yml,.json,application/yaml,text/yaml"
              multiple
              onChange={(e) => {
                void upload(e.target.files);
                e.target.value = '';
              }}
              data-testid="create-upload"
            />
          </label>
          <span className="small muted">{t('objects.uploadHint')}</span>
          <span className="small muted" data-testid="create-default-namespace">
            {t('objects.defaultNamespace', { namespace: namespace || 'default' })}
          </span>
        </div>
        {uploadError && (
          <p className="alert alert-error" role="alert">
            {uploadError}
          </p>
        )}
        <YamlEditor value={text} onChange={setText} errors={lineErrors} label={t('objects.createEditorLabel')} testId="create-editor" placeholder={t('objects.createPlaceholder')} />
        <LineErrors text={text} errors={lineErrors} />
        {requestError && !(requestError instanceof ObjectApiError && requestError.lines.length > 0) && (
          <p className="alert alert-error" role="alert" data-testid="create-request-error">
            {apiErrorText(t, requestError)}
          </p>
        )}
        <div className="yaml-toolbar">
          <button type="button" className="btn btn-primary" disabled={!text.trim() || preview.isPending} onClick={runPreview} data-testid="create-preview">
            {preview.isPending ? t('objects.previewing') : t('objects.preview')}
          </button>
          <button
            type="button"
            className="btn btn-primary"
            disabled={docs.length === 0 || stale || blocking || create.isPending || (actionId !== null && !isFinal(action.data))}
            onClick={runCreate}
            data-testid="create-apply"
            title={blocking ? t('objects.fixErrorsFirst') : stale ? t('objects.previewAgain') : undefined}
          >
            {create.isPending ? t('objects.applying') : conflicts ? t('objects.applyWithConflicts') : t('objects.apply')}
          </button>
          {stale && <span className="small muted">{t('objects.previewAgain')}</span>}
          {blocking && <span className="small field-error">{t('objects.fixErrorsFirst')}</span>}
        </div>
      </section>
      {docs.length > 0 && (
        <section className="create-docs" data-testid="create-docs">
          <h2>{t('objects.documents', { count: docs.length })}</h2>
          {docs.map((doc) => (
            <DocumentCard key={doc.index} doc={doc} />
          ))}
        </section>
      )}
      {action.data && (
        <section className="card" data-testid="create-results" data-status={action.data.status}>
          <h2 className="card-title">{t('objects.results')}</h2>
          <p role="status">
            <span className={`badge ${action.data.status === 'failed' ? 'badge-failure' : action.data.status === 'succeeded' ? 'badge-success' : 'badge-live'}`}>
              {t(`objects.status.${action.data.status}`)}
            </span>{' '}
            {action.data.message && serverText(t, { code: action.data.message_code, params: action.data.message_params, text: action.data.message })}
          </p>
          {results.length > 0 && (
            <table className="table table-dense">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">{t('clusters.col.kind')}</th>
                  <th scope="col">{t('clusters.col.name')}</th>
                  <th scope="col">{t('clusters.col.status')}</th>
                  <th scope="col">{t('clusters.col.message')}</th>
                </tr>
              </thead>
              <tbody>
                {results.map((doc) => (
                  <ResultRow key={doc.index} clusterId={id} doc={doc} />
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
    </section>
  );
}
