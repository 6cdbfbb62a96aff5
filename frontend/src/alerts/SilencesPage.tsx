/**
 * /alerts/silences — silences on the console's DataTable (latest end first as the server orders
 * them, or sorted by the server by end or creation; keyset pages), a form to create one (a
 * reason, a duration, what it matches: a rule, a cluster, a workspace, one alert's fingerprint)
 * and "Expire now" to end one early. Silences mute notifications, not evaluation. The list sits
 * under `silencesKey`: creating and expiring refetch it.
 */
import { useMemo, useState } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { FormField } from '../components/FormField';
import { DataTable, useKeysetList, type ColumnDef, pagingProps } from '../components/table';
import { useClusters } from '../clusters/queries';
import { formatDateTime } from '../lib/format';
import { apiErrorText } from '../lib/messages';
import { fetchKeysetPage } from '../lists/keyset';
import { useWorkspaces } from '../workspaces/queries';
import { AlertsTabs, permission, fieldsOf } from './common';
import { useCreateSilence, useExpireSilence, useManagedWorkspaces, useManagesInfrastructure, useRules, useSeesInfrastructure, silencesKey } from './queries';
import { refId, refName, userName, type Silence, type SilenceBody } from './types';

const DURATIONS = [3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600] as const;

export function silenceActive(s: Silence, now: number): boolean {
  if (typeof s.active === 'boolean') return s.active;
  if (s.expired_early_at) return false;
  return Date.parse(s.starts_at) <= now && now < Date.parse(s.ends_at);
}

function NewSilence({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation();
  const create = useCreateSilence();
  const sees = useSeesInfrastructure();
  const rules = useRules();
  const workspaces = useWorkspaces({});
  const clusters = useClusters({}, { enabled: sees });
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState<number>(DURATIONS[0]);
  const [rule, setRule] = useState('');
  const [cluster, setCluster] = useState('');
  const [workspace, setWorkspace] = useState('');
  const [fingerprint, setFingerprint] = useState('');
  const error = create.error;
  const errs = (name: string) => (fieldsOf(error)[name] ?? []);
  return (
    <form
      className="form-stack card"
      data-testid="silence-form"
      onSubmit={(e) => {
        e.preventDefault();
        const now = Date.now();
        const print = fingerprint.trim();
        const body: SilenceBody = {
          reason: reason.trim(),
          starts_at: new Date(now).toISOString(),
          ends_at: new Date(now + duration * 1000).toISOString(),
          rule: rule ? Number(rule) : null,
          cluster: cluster ? Number(cluster) : null,
          workspace: workspace ? Number(workspace) : null,
          ...(print ? { fingerprint: print } : {}),
        };
        create.mutate(body, { onSuccess: onDone });
      }}
    >
      <h3>{t('alerts.silences.new')}</h3>
      <FormField label={t('alerts.silence.reason')} errors={errs('reason')}>
        <textarea rows={2} value={reason} maxLength={2000} onChange={(e) => setReason(e.target.value)} data-testid="silence-reason" />
      </FormField>
      <div className="form-grid">
        <FormField label={t('alerts.silence.duration')} errors={[...errs('ends_at'), ...errs('starts_at')]}>
          <select value={duration} onChange={(e) => setDuration(Number(e.target.value))} data-testid="silence-duration">
            {DURATIONS.map((s) => (
              <option key={s} value={s}>
                {s < 86400 ? t('alerts.duration.hours', { n: s / 3600 }) : t('alerts.duration.days', { n: s / 86400 })}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('alerts.silences.rule')} errors={errs('rule')}>
          <select value={rule} onChange={(e) => setRule(e.target.value)} data-testid="silence-rule">
            <option value="">{t('alerts.silences.anyRule')}</option>
            {(rules.data ?? []).map((r) => (
              <option key={r.id} value={String(r.id)}>
                {r.name}
              </option>
            ))}
          </select>
        </FormField>
        {sees && (
          <FormField label={t('alerts.filter.cluster')} errors={errs('cluster')}>
            <select value={cluster} onChange={(e) => setCluster(e.target.value)} data-testid="silence-cluster">
              <option value="">{t('alerts.filter.any')}</option>
              {(clusters.data?.results ?? []).map((c) => (
                <option key={c.id} value={String(c.id)}>
                  {c.name}
                </option>
              ))}
            </select>
          </FormField>
        )}
        <FormField label={t('alerts.filter.workspace')} errors={errs('workspace')}>
          <select value={workspace} onChange={(e) => setWorkspace(e.target.value)} data-testid="silence-workspace">
            <option value="">{t('alerts.filter.any')}</option>
            {(workspaces.data?.results ?? []).map((w) => (
              <option key={w.id} value={String(w.id)}>
                {w.display_name || w.name}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('alerts.detail.fingerprint')} errors={errs('fingerprint')}>
          <input value={fingerprint} maxLength={64} onChange={(e) => setFingerprint(e.target.value)} data-testid="silence-fingerprint" className="mono" />
        </FormField>
      </div>
      {(errs('non_field_errors').length > 0 || (error && Object.keys(fieldsOf(error)).length === 0)) && (
        <div className="alert alert-error" role="alert" data-testid="silence-error">
          {errs('non_field_errors').join(' ') || apiErrorText(t, error)}
        </div>
      )}
      <div className="row-actions">
        <button type="button" className="btn" onClick={onDone}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="btn btn-primary" disabled={create.isPending} data-testid="silence-save">
          {create.isPending ? t('common.saving') : t('alerts.silence.submit')}
        </button>
      </div>
    </form>
  );
}

function matchersText(t: TFunction, s: Silence): string {
  const parts: string[] = [];
  if (refId(s.rule) !== null) parts.push(`${t('alerts.silences.rule')}: ${refName(s.rule)}`);
  if (refId(s.cluster) !== null) parts.push(`${t('alerts.filter.cluster')}: ${refName(s.cluster)}`);
  if (refId(s.workspace) !== null) parts.push(`${t('alerts.filter.workspace')}: ${refName(s.workspace)}`);
  if (refId(s.service_map) !== null) parts.push(`${t('alerts.rules.scope.service_map')}: ${refName(s.service_map)}`);
  if (s.fingerprint) parts.push(`${t('alerts.detail.fingerprint')}: ${s.fingerprint.slice(0, 12)}`);
  return parts.join(' · ') || t('alerts.silences.everything');
}

export function SilencesPage() {
  const { t } = useTranslation();
  const [ordering, setOrdering] = useState<string | null>(null);
  const list = useKeysetList<Silence>({
    queryKey: [...silencesKey, 'keyset', ordering],
    fetchPage: (cursor) => fetchKeysetPage<Silence>('/api/monitoring/silences/', ordering ? { ordering } : {}, cursor),
  });
  const expire = useExpireSilence();
  const infra = useManagesInfrastructure();
  const managed = useManagedWorkspaces();
  const [creating, setCreating] = useState(false);
  const columns = useMemo((): ColumnDef<Silence>[] => {
    const now = Date.now();
    return [
      { id: 'reason', meta: { label: t('alerts.silence.reason'), priority: 1, className: 'wrap-any' }, cell: ({ row: { original: s } }) => s.reason },
      { id: 'matches', meta: { label: t('alerts.silences.matches'), priority: 2, className: 'small' }, cell: ({ row: { original: s } }) => matchersText(t, s) },
      { id: 'starts', meta: { label: t('alerts.silences.starts'), priority: 3, className: 'small nowrap' }, cell: ({ row: { original: s } }) => formatDateTime(s.starts_at) },
      {
        id: 'ends',
        meta: { label: t('alerts.silences.ends'), sortKey: 'ends', priority: 2, className: 'small nowrap' },
        cell: ({ row: { original: s } }) => formatDateTime(s.expired_early_at ?? s.ends_at),
      },
      { id: 'by', meta: { label: t('alerts.silences.by'), priority: 3, className: 'small' }, cell: ({ row: { original: s } }) => userName(s.created_by) || '—' },
      {
        id: 'created',
        meta: { label: t('lists.col.created'), sortKey: 'created', priority: 3, defaultHidden: true, className: 'small nowrap' },
        cell: ({ row: { original: s } }) => formatDateTime((s as Silence & { created?: string }).created) ?? '—',
      },
      {
        id: 'state',
        meta: { label: t('alerts.col.state'), priority: 1 },
        cell: ({ row: { original: s } }) => {
          const active = silenceActive(s, now);
          return (
            <span className={`badge ${active ? 'tone-warn' : 'tone-neutral'}`} data-active={active ? 'true' : 'false'}>
              {active ? t('alerts.silences.active') : t('alerts.silences.expired')}
            </span>
          );
        },
      },
      {
        id: 'actions',
        meta: { label: t('alerts.col.actions'), priority: 1, className: 'actions-col' },
        cell: ({ row: { original: s } }) => {
          if (!silenceActive(s, now)) return null;
          const ws = refId(s.workspace);
          const may = permission(t, undefined, infra || (ws !== null && managed.has(ws)), t('alerts.rules.notAllowed'));
          return (
            <button
              type="button"
              className="btn btn-small"
              disabled={!may.allowed || expire.isPending}
              title={may.reason || undefined}
              onClick={() => expire.mutate(s.id)}
              data-testid={`silence-expire-${s.id}`}
            >
              {t('alerts.silences.expire')}
            </button>
          );
        },
      },
    ];
  }, [t, infra, managed, expire]);
  return (
    <section className="page page-wide" data-testid="silences-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('alerts.silences.title')}</h1>
          <p className="muted">{t('alerts.silences.intro')}</p>
        </div>
        {(infra || managed.size > 0) && !creating && (
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)} data-testid="silence-new">
            {t('alerts.silences.new')}
          </button>
        )}
      </header>
      <AlertsTabs />
      {creating && <NewSilence onDone={() => setCreating(false)} />}
      {expire.error && (
        <div className="alert alert-error" role="alert">
          {apiErrorText(t, expire.error)}
        </div>
      )}
      <section className="card">
        <DataTable<Silence>
          tableKey="silences"
          label={t('alerts.silences.title')}
          columns={columns}
          rows={list.rows}
          getRowId={(s) => String(s.id)}
          ordering={ordering}
          onOrderingChange={setOrdering}
          {...pagingProps(list)}
          empty={
            <p className="muted" data-testid="silences-empty">
              {t('alerts.silences.none')}
            </p>
          }
          rowTestId={(s) => `silence-row-${s.id}`}
          testId="silences-table"
        />
      </section>
    </section>
  );
}
