/**
 * /alerts/channels — notification channels: e-mail (recipients), Slack, Microsoft Teams
 * (Workflows) and generic JSON webhooks, for one workspace or global (admins); the lowest severity
 * they receive and whether they hear about resolutions. A webhook URL and its signing secret are
 * write-only: once saved, only the URL's host is shown, and leaving the field empty keeps what is
 * stored. "Send test" delivers a test message; each channel's recent deliveries show their log.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { formatDateTime } from '../lib/format';
import { apiErrorText } from '../lib/messages';
import { useMe } from '../auth/queries';
import { useWorkspaces } from '../workspaces/queries';
import { AlertsTabs, SeverityBadge, permission, fieldsOf } from './common';
import { useChannelDeliveries, useChannels, useDeleteChannel, useManagedWorkspaces, useSaveChannel, useTestChannel } from './queries';
import { CHANNEL_KINDS, SEVERITIES, refId, refName, type Channel, type ChannelBody, type ChannelKind, type Severity } from './types';

/** Recipients typed one per line or separated by commas. */
export function parseRecipients(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

function ChannelEditor({ channel, onDone }: { channel: Channel | null; onDone: () => void }) {
  const { t } = useTranslation();
  const me = useMe();
  const admin = me.data?.is_admin === true || me.data?.role === 'admin';
  const workspaces = useWorkspaces({});
  const managed = useManagedWorkspaces();
  const save = useSaveChannel(channel?.id ?? null);
  const [name, setName] = useState(channel?.name ?? '');
  const [kind, setKind] = useState<ChannelKind>(channel?.kind ?? 'email');
  const [workspace, setWorkspace] = useState(String(refId(channel?.workspace) ?? ''));
  const [enabled, setEnabled] = useState(channel?.enabled ?? true);
  const [minSeverity, setMinSeverity] = useState<Severity>(channel?.min_severity ?? 'warning');
  const [notifyResolved, setNotifyResolved] = useState(channel?.notify_resolved ?? true);
  const [recipients, setRecipients] = useState((channel?.recipients ?? []).join('\n'));
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [clearSecret, setClearSecret] = useState(false);
  const error = save.error;
  const errs = (n: string) => (fieldsOf(error)[n] ?? []);
  const wsChoices = (workspaces.data?.results ?? []).filter((w) => admin || managed.has(w.id) || String(w.id) === workspace);
  const webhook = kind !== 'email';
  const shown = new Set(['name', 'kind', 'workspace', 'enabled', 'min_severity', 'notify_resolved', 'recipients', 'url', 'secret']);
  const other = Object.entries(fieldsOf(error)).filter(([k]) => !shown.has(k));
  return (
    <form
      className="form-stack card"
      data-testid="channel-editor"
      onSubmit={(e) => {
        e.preventDefault();
        const body: ChannelBody = {
          name: name.trim(),
          enabled,
          min_severity: minSeverity,
          notify_resolved: notifyResolved,
        };
        if (!channel) {
          body.kind = kind;
          body.workspace = workspace ? Number(workspace) : null;
        }
        if (kind === 'email') body.recipients = parseRecipients(recipients);
        if (webhook && url.trim()) body.url = url.trim();
        if (webhook && secret) body.secret = secret;
        else if (webhook && clearSecret) body.secret = '';
        save.mutate(body, { onSuccess: onDone });
      }}
    >
      <h3>{channel ? t('alerts.channels.edit', { name: channel.name }) : t('alerts.channels.new')}</h3>
      <div className="form-grid">
        <FormField label={t('alerts.channels.name')} errors={errs('name')}>
          <input value={name} maxLength={100} onChange={(e) => setName(e.target.value)} data-testid="channel-name" />
        </FormField>
        <FormField label={t('alerts.channels.kind')} errors={errs('kind')}>
          <select value={kind} disabled={!!channel} onChange={(e) => setKind(e.target.value as ChannelKind)} data-testid="channel-kind">
            {CHANNEL_KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`alerts.channels.kinds.${k}`)}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('alerts.filter.workspace')} errors={errs('workspace')}>
          <select value={workspace} disabled={!!channel} onChange={(e) => setWorkspace(e.target.value)} data-testid="channel-workspace">
            {admin && <option value="">{t('alerts.channels.global')}</option>}
            {!admin && !workspace && <option value="">—</option>}
            {wsChoices.map((w) => (
              <option key={w.id} value={String(w.id)}>
                {w.display_name || w.name}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('alerts.channels.minSeverity')} errors={errs('min_severity')}>
          <select value={minSeverity} onChange={(e) => setMinSeverity(e.target.value as Severity)} data-testid="channel-min-severity">
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {t(`alerts.severity.${s}`)}
              </option>
            ))}
          </select>
        </FormField>
      </div>
      {kind === 'email' && (
        <FormField label={t('alerts.channels.recipients')} errors={errs('recipients')}>
          <textarea rows={3} value={recipients} placeholder="ops@example.com" onChange={(e) => setRecipients(e.target.value)} data-testid="channel-recipients" />
        </FormField>
      )}
      {webhook && (
        <>
          <FormField label={t('alerts.channels.url')} errors={errs('url')}>
            <input
              type="url"
              autoComplete="off"
              value={url}
              placeholder={channel?.url_host ? t('alerts.channels.urlKept', { host: channel.url_host }) : 'https://'}
              onChange={(e) => setUrl(e.target.value)}
              data-testid="channel-url"
            />
          </FormField>
          <p className="muted small">{t('alerts.channels.urlHint')}</p>
          <FormField label={t('alerts.channels.secret')} errors={errs('secret')}>
            <input
              type="password"
              autoComplete="new-password"
              value={secret}
              placeholder={channel?.has_secret ? t('alerts.channels.secretKept') : t('alerts.channels.optional')}
              onChange={(e) => setSecret(e.target.value)}
              data-testid="channel-secret"
            />
          </FormField>
          {channel?.has_secret && (
            <label className="checkbox small">
              <input type="checkbox" checked={clearSecret} onChange={(e) => setClearSecret(e.target.checked)} data-testid="channel-clear-secret" />
              {t('alerts.channels.clearSecret')}
            </label>
          )}
        </>
      )}
      <label className="checkbox">
        <input type="checkbox" checked={notifyResolved} onChange={(e) => setNotifyResolved(e.target.checked)} data-testid="channel-notify-resolved" />
        {t('alerts.channels.notifyResolved')}
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} data-testid="channel-enabled" />
        {t('alerts.channels.enabled')}
      </label>
      {other.length > 0 && (
        <ul className="field-errors" role="alert">
          {other.map(([k, msgs]) => (
            <li key={k}>{msgs.join(' ')}</li>
          ))}
        </ul>
      )}
      {error && Object.keys(fieldsOf(error)).length === 0 && (
        <div className="alert alert-error" role="alert" data-testid="channel-error">
          {apiErrorText(t, error)}
        </div>
      )}
      <div className="row-actions">
        <button type="button" className="btn" onClick={onDone}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="btn btn-primary" disabled={save.isPending} data-testid="channel-save">
          {save.isPending ? t('common.saving') : t('common.save')}
        </button>
      </div>
    </form>
  );
}

function Deliveries({ channel }: { channel: Channel }) {
  const { t } = useTranslation();
  const rows = useChannelDeliveries(channel.id, true);
  if (rows.isPending) return <Loading />;
  if (rows.isError) return <p className="muted small">{apiErrorText(t, rows.error)}</p>;
  const list = rows.data ?? [];
  if (!list.length) return <p className="muted small">{t('alerts.detail.noNotifications')}</p>;
  return (
    <ul className="plain-list small" data-testid={`channel-deliveries-${channel.id}`}>
      {list.map((n) => {
        const attempts = Array.isArray(n.attempts) ? n.attempts : (n.attempt_log ?? []);
        return (
          <li key={n.id}>
            {formatDateTime(n.created)} · {n.event} ·{' '}
            <span className={n.state === 'delivered' ? '' : n.state === 'failed' ? 'bad-text' : 'muted'}>
              {n.state in { pending: 1, sending: 1, delivered: 1, failed: 1 } ? t(`alerts.notifications.states.${n.state as 'pending'}`) : n.state}
            </span>
            {attempts.length > 0 && ` · ${t('alerts.channels.attempts', { count: attempts.length })}`}
            {n.last_error && n.state !== 'delivered' && <span className="bad-text"> · {n.last_error}</span>}
          </li>
        );
      })}
    </ul>
  );
}

function ChannelRow({ channel, onEdit }: { channel: Channel; onEdit: () => void }) {
  const { t } = useTranslation();
  const me = useMe();
  const managed = useManagedWorkspaces();
  const test = useTestChannel();
  const remove = useDeleteChannel();
  const [open, setOpen] = useState(false);
  const ws = refId(channel.workspace);
  const admin = me.data?.is_admin === true || me.data?.role === 'admin';
  const may = permission(t, channel.permissions?.change, ws === null ? admin : admin || managed.has(ws), ws === null ? t('alerts.channels.adminsOnly') : t('alerts.detail.needsGrant'));
  const result = test.data;
  return (
    <tr data-testid={`channel-row-${channel.name}`}>
      <td>
        <strong>{channel.name}</strong>
        <div className="small muted">{ws === null ? t('alerts.channels.global') : refName(channel.workspace)}</div>
      </td>
      <td>{t(`alerts.channels.kinds.${channel.kind}`)}</td>
      <td className="small wrap-any" data-testid="channel-target">
        {channel.kind === 'email' ? channel.recipients.join(', ') : channel.url_host || '—'}
      </td>
      <td>
        <SeverityBadge severity={channel.min_severity} />
        {channel.notify_resolved && <div className="small muted">{t('alerts.channels.withResolved')}</div>}
      </td>
      <td>{channel.enabled ? t('alerts.rules.on') : t('alerts.rules.off')}</td>
      <td className="actions-col">
        <div className="row-actions">
          <button type="button" className="btn btn-small" disabled={!may.allowed || test.isPending} title={may.reason || undefined} onClick={() => test.mutate(channel.id, { onSuccess: () => setOpen(true) })} data-testid="channel-test">
            {test.isPending ? t('alerts.channels.testing') : t('alerts.channels.test')}
          </button>
          <button type="button" className="btn btn-small" disabled={!may.allowed} title={may.reason || undefined} onClick={onEdit} data-testid="channel-edit">
            {t('alerts.rules.edit')}
          </button>
          <button
            type="button"
            className="btn btn-small btn-danger-outline"
            disabled={!may.allowed || remove.isPending}
            onClick={() => {
              if (window.confirm(t('alerts.channels.confirmDelete', { name: channel.name }))) remove.mutate(channel.id);
            }}
            data-testid="channel-delete"
          >
            {t('alerts.rules.delete')}
          </button>
          <button type="button" className="link-button small" onClick={() => setOpen((o) => !o)} data-testid="channel-deliveries">
            {open ? t('alerts.channels.hideDeliveries') : t('alerts.channels.showDeliveries')}
          </button>
        </div>
        {test.error && (
          <div className="small bad-text" role="alert" data-testid="channel-test-result">
            {apiErrorText(t, test.error)}
          </div>
        )}
        {result && (
          <div className={`small ${result.ok === false ? 'bad-text' : ''}`} role="status" data-testid="channel-test-result">
            {result.ok === false ? t('alerts.channels.testFailed', { error: result.error || result.detail || '' }) : t('alerts.channels.testSent')}
            {result.state && ` (${result.state in { pending: 1, sending: 1, delivered: 1, failed: 1 } ? t(`alerts.notifications.states.${result.state as 'pending'}`) : result.state})`}
          </div>
        )}
        {remove.error && <div className="small bad-text">{apiErrorText(t, remove.error)}</div>}
        {open && <Deliveries channel={channel} />}
      </td>
    </tr>
  );
}

export function ChannelsPage() {
  const { t } = useTranslation();
  const me = useMe();
  const channels = useChannels();
  const managed = useManagedWorkspaces();
  const [editing, setEditing] = useState<Channel | 'new' | null>(null);
  const admin = me.data?.is_admin === true || me.data?.role === 'admin';
  const rows = channels.data ?? [];
  return (
    <section className="page page-wide" data-testid="channels-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('alerts.channels.title')}</h1>
          <p className="muted">{t('alerts.channels.intro')}</p>
        </div>
        {(admin || managed.size > 0) && (
          <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} data-testid="channel-new">
            {t('alerts.channels.new')}
          </button>
        )}
      </header>
      <AlertsTabs />
      {editing === 'new' && <ChannelEditor channel={null} onDone={() => setEditing(null)} />}
      {editing && editing !== 'new' && <ChannelEditor key={editing.id} channel={editing} onDone={() => setEditing(null)} />}
      <section className="card">
        {channels.isPending && <Loading />}
        {channels.isError && <ErrorState error={channels.error} onRetry={() => void channels.refetch()} />}
        {channels.data && rows.length === 0 && (
          <p className="muted" data-testid="channels-empty">
            {t('alerts.channels.none')}
          </p>
        )}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense" data-testid="channels-table">
              <thead>
                <tr>
                  <th scope="col">{t('alerts.channels.name')}</th>
                  <th scope="col">{t('alerts.channels.kind')}</th>
                  <th scope="col">{t('alerts.channels.target')}</th>
                  <th scope="col">{t('alerts.channels.minSeverity')}</th>
                  <th scope="col">{t('alerts.channels.enabled')}</th>
                  <th scope="col" className="actions-col">
                    <span className="visually-hidden">{t('alerts.col.actions')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((c) => (
                  <ChannelRow key={c.id} channel={c} onEdit={() => setEditing(c)} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  );
}
