/**
 * The dialogs of the actions menu: scale (a replica count within bounds), restart / pause / resume
 * (a confirmation), roll back (the workload's revisions), delete (type the name, see what the
 * object owns, choose the cascade). Each submits one action and hands its ObjectAction to the
 * caller, which follows it. Objects a catalog release owns carry a warning: the next deploy of the
 * release puts the change back.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { Loading } from '../components/Loading';
import { TypeToConfirmDialog } from '../components/TypeToConfirmDialog';
import { apiErrorText } from '../lib/messages';
import { releasePath } from './paths';
import { useDelete, useDependents, useRevisions, useRollback, useScale, useSimpleAction, type SimpleAction } from './queries';
import { PROPAGATIONS, type ObjectAction, type ObjectRef, type OwnerRelease, type Propagation } from './types';

/** The most replicas the console offers; the server has its own bound and says so. */
export const MAX_REPLICAS = 1000;

export function ReleaseWarning({ release }: { release: OwnerRelease | null | undefined }) {
  const { t } = useTranslation();
  if (!release) return null;
  return (
    <div className="alert alert-warning object-release-warning" data-testid="owner-release-warning">
      <span>
        {t('objects.ownedByRelease', { release: release.name })}{' '}
        <Link to={releasePath(release.id)} data-testid="owner-release-link">
          {t('objects.actThroughRelease')}
        </Link>
      </span>
    </div>
  );
}

function ErrorLine({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  return (
    <p className="alert alert-error" role="alert" data-testid="action-error">
      {apiErrorText(t, error)}
    </p>
  );
}

interface DialogProps {
  clusterId: number;
  objectRef: ObjectRef;
  release: OwnerRelease | null | undefined;
  onDone: (action: ObjectAction) => void;
  onCancel: () => void;
}

/** Whether `text` is a replica count the console accepts. */
export function replicasError(text: string): 'required' | 'integer' | 'range' | null {
  if (text.trim() === '') return 'required';
  if (!/^\d+$/.test(text.trim())) return 'integer';
  const n = Number(text.trim());
  return n < 0 || n > MAX_REPLICAS ? 'range' : null;
}

export function ScaleDialog({ clusterId, objectRef, release, current, onDone, onCancel }: DialogProps & { current: number | null }) {
  const { t } = useTranslation();
  const [text, setText] = useState(current === null ? '' : String(current));
  const scale = useScale(clusterId, objectRef);
  const invalid = replicasError(text);
  const submit = () => {
    if (invalid) return;
    scale.mutate(Number(text.trim()), { onSuccess: onDone });
  };
  return (
    <Dialog
      title={t('objects.scaleTitle', { name: objectRef.name })}
      onClose={onCancel}
      testId="scale-dialog"
      footer={<DialogActions onCancel={onCancel} pending={scale.isPending} disabled={invalid !== null} label={t('objects.scale')} testId="scale-submit" form="scale-form" />}
    >
      <ReleaseWarning release={release} />
      <form
        id="scale-form"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <div className="field">
          <label htmlFor="scale-replicas">{t('objects.replicas')}</label>
          <input
            id="scale-replicas"
            name="replicas"
            type="number"
            inputMode="numeric"
            min={0}
            max={MAX_REPLICAS}
            step={1}
            value={text}
            onChange={(e) => setText(e.target.value)}
            aria-invalid={text !== '' && invalid !== null}
            aria-describedby="scale-hint"
            data-testid="scale-replicas"
          />
          <p id="scale-hint" className={`small ${text !== '' && invalid ? 'field-error' : 'muted'}`}>
            {current !== null && <>{t('objects.currentReplicas', { count: current })} · </>}
            {t('objects.replicasBounds', { max: MAX_REPLICAS })}
          </p>
        </div>
      </form>
      <ErrorLine error={scale.error} />
    </Dialog>
  );
}

export function SimpleActionDialog({ clusterId, objectRef, release, action, onDone, onCancel }: DialogProps & { action: SimpleAction }) {
  const { t } = useTranslation();
  const run = useSimpleAction(clusterId, objectRef);
  return (
    <Dialog
      title={t(`objects.confirm.${action}Title`, { name: objectRef.name })}
      onClose={onCancel}
      testId={`${action}-dialog`}
      footer={
        <DialogActions
          onCancel={onCancel}
          pending={run.isPending}
          label={t(`objects.actionName.${action}`)}
          testId={`${action}-submit`}
          onSubmit={() => run.mutate(action, { onSuccess: onDone })}
        />
      }
    >
      <ReleaseWarning release={release} />
      <p>{t(`objects.confirm.${action}Body`, { kind: objectRef.kind ?? '', name: objectRef.name })}</p>
      <ErrorLine error={run.error} />
    </Dialog>
  );
}

export function RollbackDialog({ clusterId, objectRef, release, onDone, onCancel }: DialogProps) {
  const { t, i18n } = useTranslation();
  const revisions = useRevisions(clusterId, objectRef, true);
  const [chosen, setChosen] = useState<number | null>(null);
  const rollback = useRollback(clusterId, objectRef);
  const list = revisions.data?.revisions ?? [];
  return (
    <Dialog
      title={t('objects.rollbackTitle', { name: objectRef.name })}
      onClose={onCancel}
      testId="rollback-dialog"
      footer={
        <DialogActions
          onCancel={onCancel}
          pending={rollback.isPending}
          disabled={chosen === null}
          label={t('objects.actionName.rollback')}
          testId="rollback-submit"
          onSubmit={() => chosen !== null && rollback.mutate(chosen, { onSuccess: onDone })}
        />
      }
    >
      <ReleaseWarning release={release} />
      {revisions.isPending && <Loading />}
      <ErrorLine error={revisions.error} />
      {revisions.data && list.length <= 1 && <p className="muted" data-testid="no-revisions">{t('objects.noRevisions')}</p>}
      {list.length > 0 && (
        <fieldset className="revision-list">
          <legend className="small muted">{t('objects.pickRevision')}</legend>
          {list.map((r) => (
            <label key={r.revision} className={`revision-row ${r.current ? 'current' : ''}`} data-testid={`revision-${r.revision}`}>
              <input
                type="radio"
                name="revision"
                value={r.revision}
                disabled={r.current}
                checked={chosen === r.revision}
                onChange={() => setChosen(r.revision)}
              />
              <span className="revision-number">#{r.revision}</span>
              <span className="mono small">{r.name}</span>
              <span className="mono small wrap-any">{r.images.join(', ')}</span>
              <span className="small muted">{r.created ? new Date(r.created).toLocaleString(i18n.language) : ''}</span>
              {r.current && <span className="badge badge-success">{t('objects.currentRevision')}</span>}
            </label>
          ))}
        </fieldset>
      )}
      <ErrorLine error={rollback.error} />
    </Dialog>
  );
}

export function DeleteDialog({ clusterId, objectRef, release, onDone, onCancel }: DialogProps) {
  const { t } = useTranslation();
  const dependents = useDependents(clusterId, objectRef, true);
  const [propagation, setPropagation] = useState<Propagation>('Background');
  const remove = useDelete(clusterId, objectRef);
  const owned = dependents.data?.dependents ?? [];
  const total = dependents.data?.total ?? owned.length;
  const protectedBy = dependents.data?.protected_by_service_map ?? null;
  const what = `${objectRef.kind ?? objectRef.plural} ${objectRef.namespace ? `${objectRef.namespace}/` : ''}${objectRef.name}`;
  return (
    <TypeToConfirmDialog
      title={t('objects.deleteTitle', { name: objectRef.name })}
      message={t('objects.deleteBody', { what })}
      expected={objectRef.name}
      confirmLabel={t('objects.actionName.delete')}
      busyLabel={t('objects.deleting')}
      busy={remove.isPending}
      error={remove.error}
      onConfirm={() => remove.mutate({ confirm: objectRef.name, propagation }, { onSuccess: onDone })}
      onCancel={onCancel}
    >
      <ReleaseWarning release={release} />
      {protectedBy && (
        <p className="alert alert-error" data-testid="delete-protected">
          {t('objects.protectedNamespace', { servicemap: protectedBy })}
        </p>
      )}
      <div className="delete-dependents" data-testid="delete-dependents">
        {dependents.isPending && <Loading />}
        <ErrorLine error={dependents.error} />
        {dependents.data &&
          (owned.length === 0 ? (
            <p className="small muted">{t('objects.ownsNothing')}</p>
          ) : (
            <>
              <p className="small">{t('objects.owns', { count: total })}</p>
              <ul className="plain-list mono small dependents-list">
                {owned.slice(0, 50).map((d) => (
                  <li key={`${d.kind}/${d.namespace}/${d.name}`}>
                    {d.kind} {d.namespace ? `${d.namespace}/` : ''}
                    {d.name}
                  </li>
                ))}
                {total > 50 && <li className="muted">+{total - Math.min(owned.length, 50)}</li>}
              </ul>
            </>
          ))}
      </div>
      <fieldset className="cascade-choice" data-testid="delete-cascade">
        <legend className="small">{t('objects.cascade')}</legend>
        {PROPAGATIONS.map((p) => (
          <label key={p} className="cascade-option">
            <input type="radio" name="propagation" value={p} checked={propagation === p} onChange={() => setPropagation(p)} data-testid={`cascade-${p}`} />
            <span>
              <strong>{t(`objects.propagation.${p}`)}</strong> <span className="small muted">{t(`objects.propagationHint.${p}`)}</span>
            </span>
          </label>
        ))}
      </fieldset>
    </TypeToConfirmDialog>
  );
}
