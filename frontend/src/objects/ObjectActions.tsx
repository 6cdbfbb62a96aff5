/**
 * The actions menu of one object (issue 15): Edit YAML, Scale, Restart, Pause/Resume, Roll back,
 * Delete. An action that does not apply to the kind is absent; one the user may not use is shown
 * disabled with the server's reason (the object's `permissions`, from clusters/access.py
 * object_permissions). Rows of the lists know only the object's kind and name, so the menu reads
 * the object (and its permissions) when it opens; the object page passes what it has already read.
 *
 * Every action is an ObjectAction: the dialog posts it, the menu follows it below the button until
 * its status is final. What it changes arrives in the views through the watcher.
 */
import type { TFunction } from 'i18next';
import { useEffect, useRef, useState, type CSSProperties } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { serverText } from '../lib/messages';
import { DeleteDialog, RollbackDialog, ScaleDialog, SimpleActionDialog } from './ActionDialogs';
import { ActionStatusLine } from './ActionStatus';
import { objectPath } from './paths';
import { useObject } from './queries';
import type { ObjectAction, ObjectDetail, ObjectGrant, ObjectRef, Permission } from './types';
import './objects.css';

export type ActionKey = 'edit' | 'scale' | 'restart' | 'pause' | 'resume' | 'rollback' | 'delete';
export const ACTION_KEYS: readonly ActionKey[] = ['edit', 'scale', 'restart', 'pause', 'resume', 'rollback', 'delete'];

/** The grant each action needs (docs/clusters-api.md "Workload actions": pausing and resuming decide how far
 * a rollout goes, as a rollback does, so they need `workloads.rollback`). */
export const GRANT_OF: Record<ActionKey, ObjectGrant> = {
  edit: 'objects.edit',
  scale: 'workloads.scale',
  restart: 'workloads.restart',
  pause: 'workloads.rollback',
  resume: 'workloads.rollback',
  rollback: 'workloads.rollback',
  delete: 'objects.delete',
};

const SCALABLE = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);
const RESTARTABLE = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
const PAUSABLE = new Set(['Deployment']);
const ROLLBACKABLE = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** Which actions apply to a kind (`paused`: null when unknown, then both Pause and Resume show). */
export function actionsFor(kind: string, paused: boolean | null): ActionKey[] {
  return ACTION_KEYS.filter((key) => {
    switch (key) {
      case 'scale':
        return SCALABLE.has(kind);
      case 'restart':
        return RESTARTABLE.has(kind);
      case 'pause':
        return PAUSABLE.has(kind) && paused !== true;
      case 'resume':
        return PAUSABLE.has(kind) && paused !== false;
      case 'rollback':
        return ROLLBACKABLE.has(kind);
      default:
        return true;
    }
  });
}

/** `spec.replicas` / `spec.paused` as the object's YAML (two-space indented, as the server writes it) says. */
export function specValue(yaml: string | undefined, field: 'replicas' | 'paused'): string | null {
  if (!yaml) return null;
  const spec = yaml.split(/^spec:\s*$/m)[1];
  if (spec === undefined) return null;
  const body = spec.split(/^\S/m)[0] ?? '';
  const match = body.match(new RegExp(`^ {2}${field}:\\s*(\\S+)\\s*$`, 'm'));
  return match?.[1] ?? null;
}

export function pausedOf(detail: ObjectDetail | undefined): boolean | null {
  if (!detail) return null;
  return specValue(detail.yaml, 'paused') === 'true';
}

function replicasOf(detail: ObjectDetail | undefined, fallback: number | null | undefined): number | null {
  const value = specValue(detail?.yaml, 'replicas');
  if (value !== null && /^\d+$/.test(value)) return Number(value);
  if (detail && value === null) return 1; // the API server's default
  return fallback ?? null;
}

/** Why an action is not available, in the reader's language; null when it is. */
export function deniedReason(t: TFunction, permission: Permission | undefined): string | null {
  if (!permission) return t('objects.noPermissionInfo');
  if (permission.allowed) return null;
  return serverText(t, { code: permission.code, params: permission.params, text: permission.reason }) || t('objects.notAllowed');
}

/** Why the user may not edit this object's YAML: `objects.edit`, and for a Secret `secrets.reveal` too. */
export function editDenied(t: TFunction, kind: string, permissions: ObjectDetail['permissions']): string | null {
  return deniedReason(t, permissions['objects.edit']) ?? (kind === 'Secret' ? deniedReason(t, permissions['secrets.reveal']) : null);
}

/** A menu entry that goes to another view (a pod's log or terminal panel), disabled with the reason when `grant` is denied. */
export interface ActionLink {
  key: string;
  label: string;
  to: string;
  grant: ObjectGrant;
}

export function ObjectActions({
  clusterId,
  objectRef,
  detail,
  onEdit,
  replicas,
  align = 'right',
  links = [],
  onAction,
}: {
  clusterId: number;
  /** `kind` is needed to know which actions apply. */
  objectRef: ObjectRef & { kind: string };
  /** The object as the page read it (its permissions, release, YAML); rows leave it out. */
  detail?: ObjectDetail;
  /** On the object page, Edit YAML switches to the editor instead of linking to it. */
  onEdit?: () => void;
  /** The row's replica count, for the scale dialog before the object is read. */
  replicas?: number | null;
  align?: 'left' | 'right';
  /** Entries that link elsewhere, shown before Delete. */
  links?: readonly ActionLink[];
  /** The caller follows a started action itself (a virtualised row is too short for the status line, and may go away). */
  onAction?: (action: ObjectAction) => void;
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [dialog, setDialog] = useState<ActionKey | null>(null);
  const [actionId, setActionId] = useState<number | null>(null);
  const ref = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  // The menu is placed at the button with fixed coordinates: inside a scrolling table it would be clipped.
  const [place, setPlace] = useState<CSSProperties>({});
  // Rows: read the object (permissions, release, spec) once the menu is opened.
  const fetched = useObject(clusterId, objectRef, { enabled: !detail && (open || dialog !== null) });
  const object = detail ?? fetched.data;
  const testKey = `${objectRef.kind}-${objectRef.namespace}-${objectRef.name}`;

  useEffect(() => {
    if (!open) return undefined;
    const onDocClick = (e: MouseEvent) => {
      if (ref.current && e.target instanceof Node && !ref.current.contains(e.target)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false);
    };
    const onMove = (e: Event) => {
      if (!(e.target instanceof Node && ref.current?.contains(e.target))) setOpen(false);
    };
    document.addEventListener('mousedown', onDocClick);
    document.addEventListener('keydown', onKey);
    window.addEventListener('scroll', onMove, true);
    window.addEventListener('resize', onMove);
    return () => {
      document.removeEventListener('mousedown', onDocClick);
      document.removeEventListener('keydown', onKey);
      window.removeEventListener('scroll', onMove, true);
      window.removeEventListener('resize', onMove);
    };
  }, [open]);

  const toggle = () => {
    if (!open && button.current) {
      const r = button.current.getBoundingClientRect();
      const below = window.innerHeight - r.bottom;
      // Open upwards when the space below is short and there is more above.
      const vertical: CSSProperties = below < 320 && r.top > below ? { bottom: window.innerHeight - r.top + 4 } : { top: r.bottom + 4 };
      const horizontal: CSSProperties = align === 'right' ? { right: Math.max(4, window.innerWidth - r.right) } : { left: Math.max(4, r.left) };
      setPlace({ ...vertical, ...horizontal });
    }
    setOpen((v) => !v);
  };

  const keys = actionsFor(objectRef.kind, pausedOf(object));
  const loading = !object && fetched.isPending;
  const readError = !object && fetched.isError;
  const reasonOf = (key: ActionKey): string | null => {
    if (loading) return t('objects.checkingPermissions');
    if (readError) return t('objects.cannotRead');
    if (key === 'edit' && object) return editDenied(t, objectRef.kind, object.permissions);
    return deniedReason(t, object?.permissions[GRANT_OF[key]]);
  };
  const done = (action: ObjectAction) => {
    setDialog(null);
    if (onAction) onAction(action);
    else setActionId(action.id);
  };
  const close = () => setDialog(null);
  const dialogProps = { clusterId, objectRef, release: object?.owner_release, onDone: done, onCancel: close };

  return (
    <div className={`object-actions align-${align}`} ref={ref} data-testid={`object-actions-${testKey}`}>
      <button
        type="button"
        className="btn btn-small"
        aria-haspopup="menu"
        aria-expanded={open}
        ref={button}
        onClick={toggle}
        data-testid="object-actions-button"
      >
        {t('objects.actions')} <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div className="object-actions-menu" role="menu" style={place} aria-label={t('objects.actionsFor', { name: objectRef.name })}>
          {object?.owner_release && (
            <p className="object-actions-note small" data-testid="menu-release-note">
              {t('objects.ownedByRelease', { release: object.owner_release.name })}
            </p>
          )}
          {[...keys.filter((key) => key !== 'delete'), ...links, ...keys.filter((key) => key === 'delete')].map((key) => {
            if (typeof key !== 'string') {
              const reason = loading ? t('objects.checkingPermissions') : readError ? t('objects.cannotRead') : deniedReason(t, object?.permissions[key.grant]);
              return reason ? (
                <button
                  key={key.key}
                  type="button"
                  role="menuitem"
                  disabled
                  aria-disabled
                  title={reason}
                  data-testid={`action-link-${key.key}`}
                  data-reason={reason}
                >
                  <span>{key.label}</span>
                  <span className="object-actions-reason small">{reason}</span>
                </button>
              ) : (
                <Link key={key.key} role="menuitem" to={key.to} data-testid={`action-link-${key.key}`} onClick={() => setOpen(false)}>
                  <span>{key.label}</span>
                </Link>
              );
            }
            const reason = reasonOf(key);
            const label = key === 'edit' ? t('objects.editYaml') : t(`objects.actionName.${key}`);
            const body = (
              <>
                <span>{label}</span>
                {reason && <span className="object-actions-reason small">{reason}</span>}
              </>
            );
            if (key === 'edit' && !onEdit && !reason) {
              return (
                <Link key={key} role="menuitem" to={objectPath(clusterId, objectRef, 'yaml')} data-testid="action-edit" onClick={() => setOpen(false)}>
                  {body}
                </Link>
              );
            }
            return (
              <button
                key={key}
                type="button"
                role="menuitem"
                className={key === 'delete' ? 'danger' : undefined}
                disabled={reason !== null}
                aria-disabled={reason !== null}
                title={reason ?? undefined}
                data-testid={`action-${key}`}
                data-reason={reason ?? undefined}
                onClick={() => {
                  setOpen(false);
                  if (key === 'edit') onEdit?.();
                  else setDialog(key);
                }}
              >
                {body}
              </button>
            );
          })}
        </div>
      )}
      {dialog === 'scale' && <ScaleDialog {...dialogProps} current={replicasOf(object, replicas)} />}
      {(dialog === 'restart' || dialog === 'pause' || dialog === 'resume') && <SimpleActionDialog {...dialogProps} action={dialog} />}
      {dialog === 'rollback' && <RollbackDialog {...dialogProps} />}
      {dialog === 'delete' && <DeleteDialog {...dialogProps} />}
      {actionId !== null && (
        <ActionStatusLine clusterId={clusterId} namespace={objectRef.namespace} actionId={actionId} onDismiss={() => setActionId(null)} />
      )}
    </div>
  );
}
