/**
 * The service map's `config` tab: its ConfigMaps and Secrets read from the cluster
 * (`GET /api/catalog/configs/<sm>/`), a create dialog (`config.edit`), and, with
 * `?config=<Kind>/<name>` in the URL, the editor of one object (ConfigEditor).
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { relativeTime, useNow } from '../clusters/format';
import { ApiAlert, fieldErrors } from './common';
import { ConfigEditor } from './ConfigEditor';
import { KeyValueRows, rowsToData, type KvRow } from './KeyValueRows';
import { useConfigs, useCreateConfig, usePageAccess } from './queries';
import type { ConfigKind } from './types';
import './config.css';
import { DialogActions } from '../components/DialogActions';

function CreateDialog({ smId, onClose, onCreated }: { smId: number; onClose: () => void; onCreated: (kind: ConfigKind, name: string) => void }) {
  const { t } = useTranslation();
  const [kind, setKind] = useState<ConfigKind>('ConfigMap');
  const [name, setName] = useState('');
  const [rows, setRows] = useState<KvRow[]>([{ key: '', value: '', existing: false }]);
  const create = useCreateConfig(smId);
  const submit = () =>
    create.mutate(
      { kind, name: name.trim(), data: rowsToData(rows) as Record<string, string> },
      { onSuccess: () => onCreated(kind, name.trim()) },
    );
  return (
    <Dialog
      title={t('config.create')}
      onClose={onClose}
      testId="config-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={create.isPending}
          disabled={!name.trim()}
          label={t('config.createSubmit')}
          testId="config-create-submit"
          onSubmit={submit}
        />
      }
    >
      <form
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <ApiAlert error={create.error} testId="config-error" skipFields={['kind', 'name', 'data']} />
        <FormField label={t('config.kind')} errors={fieldErrors(create.error, 'kind')}>
          <select name="kind" value={kind} onChange={(e) => setKind(e.target.value as ConfigKind)}>
            <option value="ConfigMap">ConfigMap</option>
            <option value="Secret">Secret</option>
          </select>
        </FormField>
        <FormField label={t('config.name')} errors={fieldErrors(create.error, 'name')}>
          <input name="name" className="mono" value={name} autoComplete="off" onChange={(e) => setName(e.target.value)} />
        </FormField>
        <KeyValueRows rows={rows} onChange={setRows} errors={fieldErrors(create.error, 'data')} />
      </form>
    </Dialog>
  );
}

export function ConfigTab({ serviceMapId }: { serviceMapId: number }) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  const [search, setSearch] = useSearchParams();
  const access = usePageAccess();
  const configs = useConfigs(serviceMapId);
  const [creating, setCreating] = useState(false);
  const selected = search.get('config');
  const open = (kind: string, name: string) => setSearch({ config: `${kind}/${name}` });
  if (selected && selected.includes('/')) {
    const [kind = '', ...rest] = selected.split('/');
    return <ConfigEditor key={selected} smId={serviceMapId} kind={kind} name={rest.join('/')} onBack={() => setSearch({})} />;
  }
  const canEdit = access.can('config.edit');
  return (
    <div data-testid="config-tab">
      <div className="toolbar">
        <p className="muted small">{t('config.intro')}</p>
        {canEdit && (
          <button type="button" className="btn btn-primary btn-small" data-testid="create-config" onClick={() => setCreating(true)}>
            {t('config.create')}
          </button>
        )}
      </div>
      {configs.isPending && <Loading />}
      {configs.isError && (
        <div>
          <ApiAlert error={configs.error} testId="configs-error" />
          <button type="button" className="btn btn-small" onClick={() => void configs.refetch()}>
            {t('common.retry')}
          </button>
        </div>
      )}
      {configs.data && configs.data.length === 0 && (
        <p className="muted" data-testid="configs-empty">
          {t('config.empty')}
        </p>
      )}
      {configs.data && configs.data.length > 0 && (
        <table className="table table-dense" data-testid="config-table">
          <thead>
            <tr>
              <th scope="col">{t('config.kind')}</th>
              <th scope="col">{t('config.name')}</th>
              <th scope="col">{t('config.keys')}</th>
              <th scope="col" className="num">{t('config.version')}</th>
              <th scope="col">{t('config.managedBy')}</th>
              <th scope="col">{t('clusters.col.age')}</th>
            </tr>
          </thead>
          <tbody>
            {configs.data.map((c) => (
              <tr key={`${c.kind}/${c.name}`} data-testid={`config-row-${c.kind}-${c.name}`} data-version={c.version ?? ''}>
                <td>
                  <span className={`badge ${c.kind === 'Secret' ? 'tone-warn' : 'tone-neutral'}`}>{c.kind}</span>
                </td>
                <td>
                  <Link
                    className="mono"
                    to={`?config=${encodeURIComponent(`${c.kind}/${c.name}`)}`}
                    data-testid="config-link"
                    onClick={(e) => {
                      e.preventDefault();
                      open(c.kind, c.name);
                    }}
                  >
                    {c.name}
                  </Link>
                  {c.type && c.kind === 'Secret' && c.type !== 'Opaque' && <span className="small muted"> ({c.type})</span>}
                </td>
                <td className="mono small wrap-any">{c.keys.join(', ')}</td>
                <td className="num">{c.version ?? '—'}</td>
                <td className="small">{c.managed_by || '—'}</td>
                <td className="small nowrap" title={c.created ?? undefined}>
                  {relativeTime(c.created, now, i18n.language) ?? '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <CreateDialog
          smId={serviceMapId}
          onClose={() => setCreating(false)}
          onCreated={(kind, name) => {
            setCreating(false);
            open(kind, name);
          }}
        />
      )}
    </div>
  );
}
