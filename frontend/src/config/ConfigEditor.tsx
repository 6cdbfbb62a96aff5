/**
 * One ConfigMap or Secret: its data as key/value rows, the workloads that use it (`used_by`)
 * with a "restart them" checkbox, save (a new version), the saved versions with restore, and
 * delete. Secret values are `null` from the server and show hidden unless the user holds
 * `secrets.reveal` and clicks Reveal (`?reveal=true`); a hidden value left alone is sent as
 * `null`, which keeps it.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Loading } from '../components/Loading';
import { messageText } from '../lib/messages';
import { relativeTime, useNow } from '../clusters/format';
import { ApiAlert, fieldErrors } from './common';
import { KeyValueRows, rowsToData, type KvRow } from './KeyValueRows';
import { useConfig, useConfigVersions, useDeleteConfig, usePageAccess, useRestoreConfig, useUpdateConfig } from './queries';
import type { ConfigDetail, ConfigSaved } from './types';

const toRows = (d: ConfigDetail): KvRow[] => Object.entries(d.data).map(([key, value]) => ({ key, value: value ?? null, existing: true }));

function Versions({ smId, kind, name, current, canEdit, restart, onRestored }: {
  smId: number;
  kind: string;
  name: string;
  current: number | null;
  canEdit: boolean;
  restart: boolean;
  onRestored: (saved: ConfigSaved) => void;
}) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  const versions = useConfigVersions(smId, kind, name);
  const restore = useRestoreConfig(smId, kind, name);
  const [confirm, setConfirm] = useState<number | null>(null);
  return (
    <section data-testid="config-versions">
      <h3 className="card-title">{t('config.versions')}</h3>
      {versions.isPending && <Loading />}
      <ApiAlert error={versions.error} testId="versions-error" />
      {versions.data && versions.data.length === 0 && <p className="muted small">{t('config.noVersions')}</p>}
      {versions.data && versions.data.length > 0 && (
        <table className="table table-dense">
          <thead>
            <tr>
              <th scope="col" className="num">#</th>
              <th scope="col">{t('config.keys')}</th>
              <th scope="col">{t('config.message')}</th>
              <th scope="col">{t('config.restarted')}</th>
              <th scope="col">{t('catalog.col.created')}</th>
              <th scope="col">{t('catalog.col.by')}</th>
              <th scope="col" className="actions-col">
                <span className="visually-hidden">{t('catalog.sources.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.data.map((v) => (
              <tr key={v.version} data-testid={`config-version-row-${v.version}`} data-current={String(v.version === current)}>
                <td className="num">
                  {v.version}
                  {v.version === current && <span className="badge tone-ok"> {t('config.current')}</span>}
                </td>
                <td className="mono small">{v.keys.join(', ')}</td>
                <td className="small">{messageText(t, v)}</td>
                <td className="mono small">{v.restarted.join(', ') || '—'}</td>
                <td className="small nowrap" title={v.created}>
                  {relativeTime(v.created, now, i18n.language)}
                </td>
                <td className="small">{v.created_by ?? '—'}</td>
                <td>
                  {canEdit && v.version !== current && (
                    <button type="button" className="btn btn-small" data-testid={`restore-version-${v.version}`} onClick={() => setConfirm(v.version)}>
                      {t('config.restore')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {confirm !== null && (
        <ConfirmDialog
          title={t('config.restore')}
          message={t(restart ? 'config.restoreBodyRestart' : 'config.restoreBody', { name, version: confirm })}
          confirmLabel={t('config.restore')}
          busyLabel={t('common.saving')}
          busy={restore.isPending}
          error={restore.error}
          submitTestId="confirm-restore"
          onConfirm={() =>
            restore.mutate(
              { version: confirm, restart },
              {
                onSuccess: (saved) => {
                  setConfirm(null);
                  onRestored(saved);
                },
              },
            )
          }
          onCancel={() => {
            restore.reset();
            setConfirm(null);
          }}
        />
      )}
    </section>
  );
}

export function ConfigEditor({ smId, kind, name, onBack }: { smId: number; kind: string; name: string; onBack: () => void }) {
  const { t } = useTranslation();
  const access = usePageAccess();
  const canEdit = access.can('config.edit');
  const canReveal = access.can('secrets.reveal');
  const [reveal, setReveal] = useState(false);
  const detail = useConfig(smId, kind, name, reveal);
  const update = useUpdateConfig(smId, kind, name);
  const remove = useDeleteConfig(smId, kind, name);
  const [rows, setRows] = useState<KvRow[] | null>(null);
  const [restart, setRestart] = useState(false);
  const [message, setMessage] = useState('');
  const [saved, setSaved] = useState<ConfigSaved | null>(null);
  const [deleting, setDeleting] = useState(false);
  // The rows follow the server until the user edits them (and again after a save, restore or reveal).
  const [dirty, setDirty] = useState(false);
  useEffect(() => {
    if (detail.data && !dirty) setRows(toRows(detail.data));
  }, [detail.data, dirty]);
  const isSecret = kind === 'Secret';
  const d = detail.data;
  const afterSave = (result: ConfigSaved) => {
    setSaved(result);
    setDirty(false);
    void detail.refetch();
  };
  return (
    <div data-testid="config-editor" data-kind={kind} data-name={name} data-version={d?.version ?? ''} data-revealed={String(d?.revealed ?? false)}>
      <p className="small">
        <button type="button" className="btn btn-small" data-testid="config-back" onClick={onBack}>
          ← {t('config.back')}
        </button>
      </p>
      <div className="cluster-title">
        <h2 className="card-title">
          <span className={`badge ${isSecret ? 'tone-warn' : 'tone-neutral'}`}>{kind}</span> <span className="mono">{name}</span>{' '}
          {d && (
            <span className="small muted" data-testid="config-version">
              {t('config.versionN', { version: d.version ?? '—' })}
            </span>
          )}
        </h2>
        <div className="header-actions">
          {isSecret && canReveal && !reveal && (
            <button type="button" className="btn btn-small" data-testid="reveal-secret" disabled={dirty} onClick={() => setReveal(true)}>
              {t('config.reveal')}
            </button>
          )}
          {isSecret && reveal && (
            <button
              type="button"
              className="btn btn-small"
              data-testid="hide-secret"
              onClick={() => {
                setDirty(false);
                setReveal(false);
              }}
            >
              {t('config.hide')}
            </button>
          )}
          {canEdit && (
            <button type="button" className="btn btn-small btn-danger-outline" data-testid="delete-config" onClick={() => setDeleting(true)}>
              {t('config.delete')}
            </button>
          )}
        </div>
      </div>
      {detail.isPending && <Loading />}
      <ApiAlert error={detail.error} testId="config-load-error" />
      {d && rows && (
        <div className="form-stack">
          {isSecret && !d.revealed && <p className="small muted" data-testid="secret-note">{t(canReveal ? 'config.secretNoteReveal' : 'config.secretNote')}</p>}
          <KeyValueRows
            rows={rows}
            errors={fieldErrors(update.error, 'data')}
            onChange={(next) => {
              setRows(next);
              setDirty(true);
              setSaved(null);
            }}
          />
          <div data-testid="config-used-by">
            <strong className="small">{t('config.usedBy')}</strong>{' '}
            {d.used_by.length === 0 ? (
              <span className="small muted">{t('config.usedByNone')}</span>
            ) : (
              <span className="mono small">{d.used_by.join(', ')}</span>
            )}
          </div>
          {canEdit && (
            <>
              <label className="checkbox">
                <input type="checkbox" data-testid="config-restart" checked={restart} disabled={d.used_by.length === 0} onChange={(e) => setRestart(e.target.checked)} />{' '}
                {t('config.restartUsers', { n: d.used_by.length })}
              </label>
              <input
                name="message"
                placeholder={t('config.messagePlaceholder')}
                aria-label={t('config.message')}
                value={message}
                onChange={(e) => setMessage(e.target.value)}
              />
              <ApiAlert error={update.error} testId="config-save-error" skipFields={['data']} />
              <div>
                <button
                  type="button"
                  className="btn btn-primary"
                  data-testid="config-save"
                  disabled={update.isPending || !dirty}
                  onClick={() =>
                    update.mutate(
                      { data: rowsToData(rows), restart: restart && d.used_by.length > 0, message },
                      {
                        onSuccess: (result) => {
                          setMessage('');
                          afterSave(result);
                        },
                      },
                    )
                  }
                >
                  {update.isPending ? t('common.saving') : t('config.save')}
                </button>
              </div>
            </>
          )}
          {saved && (
            <p className="alert alert-success" role="status" data-testid="config-saved" data-version={saved.version}>
              {t('config.saved', { version: saved.version })}
              {saved.restarted.length > 0 && ` ${t('config.restartedList', { list: saved.restarted.join(', ') })}`}
            </p>
          )}
          <Versions smId={smId} kind={kind} name={name} current={d.version} canEdit={canEdit} restart={restart && d.used_by.length > 0} onRestored={afterSave} />
        </div>
      )}
      {deleting && (
        <ConfirmDialog
          title={t('config.delete')}
          message={t('config.deleteBody', { kind, name })}
          confirmLabel={t('config.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          submitTestId="confirm-delete-config"
          onConfirm={() => remove.mutate(undefined, { onSuccess: onBack })}
          onCancel={() => {
            remove.reset();
            setDeleting(false);
          }}
        />
      )}
    </div>
  );
}
