/**
 * The YAML tab of the object page: edit, preview, apply (issue 15).
 *
 * 1. The editor starts from the live object (managedFields and status left out by the server).
 * 2. "Preview changes" asks the server for a dry-run server-side apply under the user's own field
 *    manager: the diff against live (MergeView) and any conflict with another manager, listed field
 *    by field with the manager that owns it. Validation errors land on their lines in the editor.
 * 3. "Apply" posts the change (202, an ObjectAction) and follows it; a conflict found then (someone
 *    changed the object in between) is offered again. With conflicts the user chooses: "Apply anyway
 *    (force)" takes the fields over, "Back out" returns to the editor with the draft kept.
 * A successful apply reloads the live object into the editor.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { apiErrorText, messageText } from '../lib/messages';
import { ObjectApiError } from './api';
import { MergeDiff } from './DiffView';
import { editDenied } from './ObjectActions';
import { isFinal, useActionEvents, useApply, useObjectAction, usePreview } from './queries';
import type { Conflict, LineError, ObjectDetail, ObjectRef, Preview } from './types';
import { YamlEditor, unplacedErrors } from './YamlEditor';

type Stage = { step: 'edit' } | { step: 'preview'; preview: Preview } | { step: 'applying'; actionId: number; force: boolean };

export function ConflictList({ conflicts, testId = 'conflicts' }: { conflicts: Conflict[]; testId?: string }) {
  const { t } = useTranslation();
  return (
    <div className="alert alert-warning conflicts" data-testid={testId} role="alert">
      <div>
        <strong>{t('objects.conflictsTitle', { count: conflicts.length })}</strong>
        <p className="small">{t('objects.conflictsHint')}</p>
        <table className="table table-dense table-compact">
          <thead>
            <tr>
              <th scope="col">{t('objects.field')}</th>
              <th scope="col">{t('objects.manager')}</th>
              <th scope="col">{t('clusters.col.message')}</th>
            </tr>
          </thead>
          <tbody>
            {conflicts.map((c, i) => (
              <tr key={`${c.field}-${i}`} data-testid={`conflict-${i}`} data-field={c.field} data-manager={c.manager}>
                <td className="mono small">{c.field}</td>
                <td className="mono small">{c.manager}</td>
                <td className="small">{c.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function LineErrors({ text, errors }: { text: string; errors: LineError[] }) {
  const { t } = useTranslation();
  if (errors.length === 0) return null;
  const unplaced = unplacedErrors(text, errors);
  return (
    <div className="alert alert-error" role="alert" data-testid="yaml-errors">
      <div>
        <strong>{t('objects.validationErrors', { count: errors.length })}</strong>
        <ul className="plain-list small">
          {errors.map((e, i) => (
            <li key={i} data-testid={`yaml-error-${i}`} data-line={e.line ?? ''}>
              {e.line ? <span className="mono">{t('objects.lineN', { line: e.line })}: </span> : null}
              {e.field ? <span className="mono">{e.field}: </span> : null}
              {e.message}
            </li>
          ))}
        </ul>
        {unplaced.length < errors.length && <p className="small muted">{t('objects.errorsMarked')}</p>}
      </div>
    </div>
  );
}

export function YamlTab({ clusterId, objectRef, detail }: { clusterId: number; objectRef: ObjectRef; detail: ObjectDetail }) {
  const { t } = useTranslation();
  const [base, setBase] = useState(detail.yaml);
  const [draft, setDraft] = useState(detail.yaml);
  const [stage, setStage] = useState<Stage>({ step: 'edit' });
  const [lineErrors, setLineErrors] = useState<LineError[]>([]);
  const [reloadOnNext, setReloadOnNext] = useState(false);
  const [applied, setApplied] = useState(false);
  const preview = usePreview(clusterId, objectRef);
  const apply = useApply(clusterId, objectRef);
  const actionId = stage.step === 'applying' ? stage.actionId : null;
  const action = useObjectAction(actionId);
  useActionEvents(clusterId, objectRef.namespace, actionId !== null && !isFinal(action.data));
  const denied = editDenied(t, detail.kind, detail.permissions);
  const canEdit = denied === null;
  const dirty = draft !== base;

  // A new live version: take it when nothing is edited (or after our own apply); otherwise say so.
  useEffect(() => {
    if (detail.yaml === base) return;
    if (!dirty || reloadOnNext) {
      setBase(detail.yaml);
      setDraft(detail.yaml);
      setReloadOnNext(false);
    }
    // Only a new live text triggers this; the draft's own changes must not.
  }, [detail.yaml]);
  const liveMoved = detail.yaml !== base;

  // Follow the apply: success reloads; a conflict or failure goes back to a choice.
  const current = action.data;
  useEffect(() => {
    if (!current || !isFinal(current) || stage.step !== 'applying') return;
    if (current.status === 'succeeded') {
      setApplied(true);
      setReloadOnNext(true);
      setStage({ step: 'edit' });
    } else if (current.status === 'failed') {
      setLineErrors(current.result?.errors?.map((e) => ({ line: e.line ?? null, message: e.message, field: e.field })) ?? []);
    }
  }, [current, stage.step]);

  const runPreview = () => {
    setApplied(false);
    setLineErrors([]);
    apply.reset();
    preview.mutate(draft, {
      onSuccess: (answer) => setStage({ step: 'preview', preview: answer }),
      onError: (error) => setLineErrors(error instanceof ObjectApiError ? error.lines : []),
    });
  };
  const runApply = (force: boolean) => {
    setLineErrors([]);
    apply.mutate(
      { yaml: draft, force },
      {
        onSuccess: (a) => setStage({ step: 'applying', actionId: a.id, force }),
        onError: (error) => {
          // Errors on lines are shown where they are: back in the editor.
          if (error instanceof ObjectApiError && error.lines.length > 0) {
            setLineErrors(error.lines);
            setStage({ step: 'edit' });
          }
        },
      },
    );
  };
  const backOut = () => {
    apply.reset();
    setStage({ step: 'edit' });
  };
  const reset = () => {
    setDraft(detail.yaml);
    setBase(detail.yaml);
    setLineErrors([]);
    setStage({ step: 'edit' });
    preview.reset();
    apply.reset();
  };

  const conflicts: Conflict[] =
    stage.step === 'preview'
      ? stage.preview.conflicts
      : stage.step === 'applying' && current?.status === 'conflict'
        ? (current.result?.conflicts ?? [])
        : [];
  const requestError = preview.error ?? apply.error;
  const editing = stage.step === 'edit';
  const errorsShown = lineErrors;

  return (
    <div className="yaml-tab" data-testid="yaml-tab" data-stage={stage.step}>
      {!canEdit && (
        <p className="alert alert-warning small" data-testid="edit-denied">
          {t('objects.readOnlyBecause', { reason: denied })}
        </p>
      )}
      {applied && (
        <p className="alert alert-success" role="status" data-testid="apply-succeeded">
          {t('objects.applied')}
        </p>
      )}
      {liveMoved && dirty && (
        <div className="alert alert-warning" data-testid="live-moved">
          <span>{t('objects.liveMoved')}</span>
          <button type="button" className="btn btn-small" onClick={reset} data-testid="load-live">
            {t('objects.loadLive')}
          </button>
        </div>
      )}
      {requestError && !(requestError instanceof ObjectApiError && requestError.lines.length > 0) && (
        <p className="alert alert-error" role="alert" data-testid="yaml-request-error">
          {apiErrorText(t, requestError)}
        </p>
      )}
      <LineErrors text={draft} errors={errorsShown} />
      <div hidden={!editing}>
        <YamlEditor
          value={draft}
          onChange={(text) => {
            setDraft(text);
            setApplied(false);
          }}
          readOnly={!canEdit}
          errors={errorsShown}
          label={t('objects.editorLabel', { name: objectRef.name })}
        />
        {canEdit && (
          <div className="yaml-toolbar">
            <button type="button" className="btn btn-primary" disabled={!dirty || preview.isPending} onClick={runPreview} data-testid="yaml-preview">
              {preview.isPending ? t('objects.previewing') : t('objects.preview')}
            </button>
            <button type="button" className="btn" disabled={!dirty} onClick={reset} data-testid="yaml-reset">
              {t('objects.discard')}
            </button>
            {!dirty && <span className="small muted">{t('objects.noEditsYet')}</span>}
          </div>
        )}
      </div>
      {stage.step === 'preview' && (
        <section className="yaml-preview" data-testid="yaml-preview-result" data-changed={stage.preview.changed ? 'true' : 'false'}>
          <h3 className="card-title">{t('objects.previewTitle')}</h3>
          <p className="small muted">{t('objects.previewHint')}</p>
          {stage.preview.changed ? (
            <MergeDiff before={stage.preview.live_yaml} after={stage.preview.result_yaml} />
          ) : (
            <p className="muted" data-testid="preview-unchanged">
              {t('objects.noChanges')}
            </p>
          )}
          {conflicts.length > 0 && <ConflictList conflicts={conflicts} />}
          <div className="yaml-toolbar">
            {conflicts.length > 0 ? (
              <>
                <button type="button" className="btn btn-danger" disabled={apply.isPending} onClick={() => runApply(true)} data-testid="apply-force">
                  {t('objects.applyForce')}
                </button>
                <button type="button" className="btn" onClick={backOut} data-testid="back-out">
                  {t('objects.backOut')}
                </button>
              </>
            ) : (
              <>
                <button
                  type="button"
                  className="btn btn-primary"
                  disabled={apply.isPending || !stage.preview.changed}
                  onClick={() => runApply(false)}
                  data-testid="yaml-apply"
                >
                  {apply.isPending ? t('objects.applying') : t('objects.apply')}
                </button>
                <button type="button" className="btn" onClick={backOut} data-testid="back-to-edit">
                  {t('objects.backToEdit')}
                </button>
              </>
            )}
          </div>
        </section>
      )}
      {stage.step === 'applying' && (
        <section className="yaml-preview" data-testid="yaml-applying" data-status={current?.status ?? 'pending'}>
          <p role="status">
            {current && isFinal(current) ? messageText(t, current) || t(`objects.status.${current.status}`) : t('objects.applyingWait')}
          </p>
          {current?.status === 'conflict' && (
            <>
              <ConflictList conflicts={conflicts} />
              <div className="yaml-toolbar">
                <button type="button" className="btn btn-danger" disabled={apply.isPending} onClick={() => runApply(true)} data-testid="apply-force">
                  {t('objects.applyForce')}
                </button>
                <button type="button" className="btn" onClick={backOut} data-testid="back-out">
                  {t('objects.backOut')}
                </button>
              </div>
            </>
          )}
          {current?.status === 'failed' && (
            <div className="yaml-toolbar">
              <button type="button" className="btn" onClick={backOut} data-testid="back-to-edit">
                {t('objects.backToEdit')}
              </button>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
