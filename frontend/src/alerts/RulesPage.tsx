/**
 * /alerts/rules — the built-in rules (enable/disable, severity, their parameters; never deleted)
 * and custom rules on a stored metric (metric, aggregation, operator, threshold, window, for,
 * scope: workspace, cluster, service map or one workload). The server's 400 `errors` are shown
 * next to their fields.
 */
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/errors';
import { FormField } from '../components/FormField';
import { DataTable, useKeysetList, type ColumnDef, pagingProps } from '../components/table';
import { useClusters } from '../clusters/queries';
import { apiErrorText } from '../lib/messages';
import { formatDateTime } from '../lib/format';
import { fetchKeysetPage } from '../lists/keyset';
import { useAllServiceMaps, useWorkspaces } from '../workspaces/queries';
import { AlertsTabs, SeverityBadge, durationText, permission, fieldsOf } from './common';
import { useDeleteRule, useManagedWorkspaces, useManagesInfrastructure, rulesKey, useSaveRule, useSeesInfrastructure } from './queries';
import { AGGREGATIONS, OPERATORS, RULE_LEVELS, RULE_METRICS, SEVERITIES, refId, refName, type AlertRule, type RuleBody, type RuleScope, type Severity } from './types';

export function scopeOf(rule: Pick<AlertRule, 'workspace' | 'cluster' | 'service_map' | 'workload_name'>): RuleScope {
  if (rule.workload_name) return 'workload';
  if (refId(rule.service_map) !== null) return 'service_map';
  if (refId(rule.cluster) !== null) return 'cluster';
  if (refId(rule.workspace) !== null) return 'workspace';
  return 'fleet';
}

function scopeText(t: TFunction, rule: AlertRule): string {
  switch (scopeOf(rule)) {
    case 'workload':
      return `${t('alerts.rules.scope.workload')}: ${rule.workload_namespace}/${rule.workload_kind}/${rule.workload_name}`;
    case 'service_map':
      return `${t('alerts.rules.scope.service_map')}: ${refName(rule.service_map)}`;
    case 'cluster':
      return `${t('alerts.rules.scope.cluster')}: ${refName(rule.cluster)}`;
    case 'workspace':
      return `${t('alerts.rules.scope.workspace')}: ${refName(rule.workspace)}`;
    default:
      return t('alerts.rules.scope.fleet');
  }
}

function conditionText(t: TFunction, rule: AlertRule): string {
  if (rule.builtin) return t('alerts.rules.builtinCondition');
  return `${rule.level ? `${rule.level} · ` : ''}${rule.aggregation}(${rule.metric}, ${durationText(t, rule.window_seconds)}) ${rule.operator} ${rule.threshold ?? '—'} · ${t('alerts.rules.forText', { duration: durationText(t, rule.for_seconds) })}`;
}

/** Errors of one field, and of fields the form does not show, for the form's foot. */
function fieldErrors(error: ApiError | null, name: string): string[] {
  return (fieldsOf(error)[name] ?? []);
}

function BuiltinEditor({ rule, onDone }: { rule: AlertRule; onDone: () => void }) {
  const { t } = useTranslation();
  const save = useSaveRule(rule.id);
  const [enabled, setEnabled] = useState(rule.enabled);
  const [severity, setSeverity] = useState<Severity>(rule.severity);
  const [params, setParams] = useState<Record<string, string>>(() => {
    const out: Record<string, string> = {};
    for (const spec of rule.param_specs ?? []) out[spec.name] = String(spec.default);
    for (const [k, v] of Object.entries(rule.params ?? {})) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
    return out;
  });
  const specs = new Map((rule.param_specs ?? []).map((s) => [s.name, s]));
  const error = save.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) {
      const n = Number(v);
      if (v.trim() !== '' && Number.isFinite(n)) parsed[k] = n;
      else if (v === 'true' || v === 'false') parsed[k] = v === 'true';
      else parsed[k] = v;
    }
    save.mutate({ enabled, severity, params: parsed }, { onSuccess: onDone });
  };
  const paramErrors = fieldsOf(error);
  return (
    <form className="form-stack card" onSubmit={submit} data-testid="builtin-editor">
      <h3>{t('alerts.rules.editBuiltin', { name: rule.name })}</h3>
      <label className="checkbox">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} data-testid="rule-enabled" />
        {t('alerts.rules.enabled')}
      </label>
      <FormField label={t('alerts.rules.severity')} errors={fieldErrors(error, 'severity')}>
        <select value={severity} onChange={(e) => setSeverity(e.target.value as Severity)} data-testid="rule-severity">
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {t(`alerts.severity.${s}`)}
            </option>
          ))}
        </select>
      </FormField>
      {Object.keys(params).length > 0 && <h4>{t('alerts.rules.params')}</h4>}
      {Object.entries(params).map(([k, v]) => {
        const spec = specs.get(k);
        return (
          <div key={k}>
            <FormField label={k} errors={[...(paramErrors[`params.${k}`] ?? []), ...(paramErrors[k] ?? [])]}>
              <input
                type={spec ? 'number' : 'text'}
                step="any"
                min={spec?.minimum}
                max={spec?.maximum}
                value={v}
                onChange={(e) => setParams((p) => ({ ...p, [k]: e.target.value }))}
                data-testid={`rule-param-${k}`}
              />
            </FormField>
            {spec?.description && <p className="muted small">{spec.description}</p>}
          </div>
        );
      })}
      {fieldErrors(error, 'params').length > 0 && <p className="bad-text small">{fieldErrors(error, 'params').join(' ')}</p>}
      {error && Object.keys(fieldsOf(error)).length === 0 && (
        <div className="alert alert-error" role="alert">
          {apiErrorText(t, error)}
        </div>
      )}
      <div className="row-actions">
        <button type="button" className="btn" onClick={onDone}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="btn btn-primary" disabled={save.isPending} data-testid="rule-save">
          {save.isPending ? t('common.saving') : t('common.save')}
        </button>
      </div>
    </form>
  );
}

interface Draft {
  name: string;
  description: string;
  enabled: boolean;
  severity: Severity;
  metric: string;
  aggregation: string;
  operator: string;
  threshold: string;
  window_seconds: string;
  for_seconds: string;
  level: string;
  scope: RuleScope;
  workspace: string;
  cluster: string;
  service_map: string;
  workload_namespace: string;
  workload_kind: string;
  workload_name: string;
}

function draftOf(rule: AlertRule | null, defaultScope: RuleScope): Draft {
  return {
    name: rule?.name ?? '',
    description: rule?.description ?? '',
    enabled: rule?.enabled ?? true,
    severity: rule?.severity ?? 'warning',
    metric: rule?.metric || 'cpu_usage',
    aggregation: rule?.aggregation || 'avg',
    operator: rule?.operator || '>',
    threshold: rule?.threshold === null || rule?.threshold === undefined ? '' : String(rule.threshold),
    window_seconds: String(rule?.window_seconds ?? 300),
    for_seconds: String(rule?.for_seconds ?? 0),
    level: rule?.level || 'pod',
    scope: rule ? scopeOf(rule) : defaultScope,
    workspace: String(refId(rule?.workspace) ?? ''),
    cluster: String(refId(rule?.cluster) ?? ''),
    service_map: String(refId(rule?.service_map) ?? ''),
    workload_namespace: rule?.workload_namespace ?? '',
    workload_kind: rule?.workload_kind || 'Deployment',
    workload_name: rule?.workload_name ?? '',
  };
}

const num = (v: string): number | null => (v.trim() === '' || !Number.isFinite(Number(v)) ? null : Number(v));

export function bodyOf(d: Draft): RuleBody {
  const body: RuleBody = {
    name: d.name.trim(),
    description: d.description,
    enabled: d.enabled,
    severity: d.severity,
    metric: d.metric,
    aggregation: d.aggregation,
    operator: d.operator,
    threshold: num(d.threshold),
    window_seconds: num(d.window_seconds) ?? 300,
    for_seconds: num(d.for_seconds) ?? 0,
    level: d.level,
    workspace: null,
    cluster: null,
    service_map: null,
    workload_namespace: '',
    workload_kind: '',
    workload_name: '',
  };
  if (d.scope === 'workspace') body.workspace = num(d.workspace);
  if (d.scope === 'service_map') body.service_map = num(d.service_map);
  if (d.scope === 'cluster' || d.scope === 'workload') body.cluster = num(d.cluster);
  if (d.scope === 'workload') {
    body.workload_namespace = d.workload_namespace.trim();
    body.workload_kind = d.workload_kind;
    body.workload_name = d.workload_name.trim();
  }
  return body;
}

function CustomEditor({ rule, onDone }: { rule: AlertRule | null; onDone: () => void }) {
  const { t } = useTranslation();
  const infra = useManagesInfrastructure();
  const sees = useSeesInfrastructure();
  const save = useSaveRule(rule?.id ?? null);
  const [d, setD] = useState<Draft>(() => draftOf(rule, infra ? 'fleet' : 'workspace'));
  const workspaces = useWorkspaces({});
  const serviceMaps = useAllServiceMaps({});
  const clusters = useClusters({}, { enabled: sees });
  const error = save.error;
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD((x) => ({ ...x, [k]: v }));
  const errs = (name: string) => fieldErrors(error, name);
  const shown = new Set(['name', 'description', 'severity', 'metric', 'aggregation', 'operator', 'threshold', 'window_seconds', 'for_seconds', 'level', 'workspace', 'cluster', 'service_map', 'workload_namespace', 'workload_kind', 'workload_name', 'enabled']);
  const other = Object.entries(fieldsOf(error)).filter(([k]) => !shown.has(k));
  const scopes: RuleScope[] = infra ? ['fleet', 'workspace', 'cluster', 'service_map', 'workload'] : ['workspace', 'service_map', 'workload'];
  return (
    <form
      className="form-stack card"
      data-testid="rule-editor"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate(bodyOf(d), { onSuccess: onDone });
      }}
    >
      <h3>{rule ? t('alerts.rules.editCustom', { name: rule.name }) : t('alerts.rules.new')}</h3>
      <div className="form-grid">
        <FormField label={t('alerts.rules.name')} errors={errs('name')}>
          <input name="name" value={d.name} maxLength={100} onChange={(e) => set('name', e.target.value)} data-testid="rule-name" />
        </FormField>
        <FormField label={t('alerts.rules.severity')} errors={errs('severity')}>
          <select value={d.severity} onChange={(e) => set('severity', e.target.value as Severity)} data-testid="rule-severity">
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {t(`alerts.severity.${s}`)}
              </option>
            ))}
          </select>
        </FormField>
      </div>
      <FormField label={t('alerts.rules.description')} errors={errs('description')}>
        <textarea rows={2} value={d.description} maxLength={2000} onChange={(e) => set('description', e.target.value)} data-testid="rule-description" />
      </FormField>
      <div className="form-grid">
        <FormField label={t('alerts.rules.metric')} errors={errs('metric')}>
          <select value={d.metric} onChange={(e) => set('metric', e.target.value)} data-testid="rule-metric">
            {[...new Set([...RULE_METRICS, d.metric])].map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('alerts.rules.level')} errors={errs('level')}>
          <select value={d.level} onChange={(e) => set('level', e.target.value)} data-testid="rule-level">
            {RULE_LEVELS.map((l) => (
              <option key={l} value={l}>
                {t(`alerts.rules.levels.${l}`)}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('alerts.rules.aggregation')} errors={errs('aggregation')}>
          <select value={d.aggregation} onChange={(e) => set('aggregation', e.target.value)} data-testid="rule-aggregation">
            {AGGREGATIONS.map((a) => (
              <option key={a} value={a}>
                {t(`alerts.rules.agg.${a}`)}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('alerts.rules.operator')} errors={errs('operator')}>
          <select value={d.operator} onChange={(e) => set('operator', e.target.value)} data-testid="rule-operator">
            {OPERATORS.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('alerts.rules.threshold')} errors={errs('threshold')}>
          <input type="number" step="any" value={d.threshold} onChange={(e) => set('threshold', e.target.value)} data-testid="rule-threshold" />
        </FormField>
        <FormField label={t('alerts.rules.window')} errors={errs('window_seconds')}>
          <input type="number" min={0} value={d.window_seconds} onChange={(e) => set('window_seconds', e.target.value)} data-testid="rule-window" />
        </FormField>
        <FormField label={t('alerts.rules.for')} errors={errs('for_seconds')}>
          <input type="number" min={0} value={d.for_seconds} onChange={(e) => set('for_seconds', e.target.value)} data-testid="rule-for" />
        </FormField>
      </div>
      <fieldset className="radio-group">
        <legend>{t('alerts.rules.scopeLabel')}</legend>
        {scopes.map((s) => (
          <label key={s} className="radio">
            <input type="radio" name="scope" value={s} checked={d.scope === s} onChange={() => set('scope', s)} data-testid={`rule-scope-${s}`} />
            {t(`alerts.rules.scope.${s}`)}
          </label>
        ))}
      </fieldset>
      {d.scope === 'workspace' && (
        <FormField label={t('alerts.rules.scope.workspace')} errors={errs('workspace')}>
          <select value={d.workspace} onChange={(e) => set('workspace', e.target.value)} data-testid="rule-workspace">
            <option value="">—</option>
            {(workspaces.data?.results ?? []).map((w) => (
              <option key={w.id} value={String(w.id)}>
                {w.display_name || w.name}
              </option>
            ))}
          </select>
        </FormField>
      )}
      {d.scope === 'service_map' && (
        <FormField label={t('alerts.rules.scope.service_map')} errors={errs('service_map')}>
          <select value={d.service_map} onChange={(e) => set('service_map', e.target.value)} data-testid="rule-service-map">
            <option value="">—</option>
            {(serviceMaps.data?.results ?? []).map((m) => (
              <option key={m.id} value={String(m.id)}>
                {m.display_name || m.namespace} ({m.cluster.name})
              </option>
            ))}
          </select>
        </FormField>
      )}
      {(d.scope === 'cluster' || d.scope === 'workload') && (
        <FormField label={t('alerts.rules.scope.cluster')} errors={errs('cluster')}>
          {sees ? (
            <select value={d.cluster} onChange={(e) => set('cluster', e.target.value)} data-testid="rule-cluster">
              <option value="">—</option>
              {(clusters.data?.results ?? []).map((c) => (
                <option key={c.id} value={String(c.id)}>
                  {c.name}
                </option>
              ))}
            </select>
          ) : (
            <input type="number" min={1} value={d.cluster} onChange={(e) => set('cluster', e.target.value)} data-testid="rule-cluster" />
          )}
        </FormField>
      )}
      {d.scope === 'workload' && (
        <div className="form-grid">
          <FormField label={t('alerts.rules.namespace')} errors={errs('workload_namespace')}>
            <input value={d.workload_namespace} onChange={(e) => set('workload_namespace', e.target.value)} data-testid="rule-workload-namespace" />
          </FormField>
          <FormField label={t('alerts.rules.kind')} errors={errs('workload_kind')}>
            <select value={d.workload_kind} onChange={(e) => set('workload_kind', e.target.value)} data-testid="rule-workload-kind">
              {['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </FormField>
          <FormField label={t('alerts.rules.workloadName')} errors={errs('workload_name')}>
            <input value={d.workload_name} onChange={(e) => set('workload_name', e.target.value)} data-testid="rule-workload-name" />
          </FormField>
        </div>
      )}
      <label className="checkbox">
        <input type="checkbox" checked={d.enabled} onChange={(e) => set('enabled', e.target.checked)} data-testid="rule-enabled" />
        {t('alerts.rules.enabled')}
      </label>
      {other.length > 0 && (
        <ul className="field-errors" role="alert" data-testid="rule-other-errors">
          {other.map(([k, msgs]) => (
            <li key={k}>
              {k === 'non_field_errors' ? '' : `${k}: `}
              {msgs.join(' ')}
            </li>
          ))}
        </ul>
      )}
      {error && Object.keys(fieldsOf(error)).length === 0 && (
        <div className="alert alert-error" role="alert" data-testid="rule-error">
          {apiErrorText(t, error)}
        </div>
      )}
      <div className="row-actions">
        <button type="button" className="btn" onClick={onDone}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="btn btn-primary" disabled={save.isPending} data-testid="rule-save">
          {save.isPending ? t('common.saving') : t('common.save')}
        </button>
      </div>
    </form>
  );
}

function ToggleEnabled({ rule, allowed }: { rule: AlertRule; allowed: boolean }) {
  const { t } = useTranslation();
  const save = useSaveRule(rule.id);
  return (
    <label className="checkbox small">
      <input
        type="checkbox"
        checked={rule.enabled}
        disabled={!allowed || save.isPending}
        onChange={(e) => save.mutate({ enabled: e.target.checked })}
        data-testid={`rule-toggle-${rule.id}`}
      />
      {rule.enabled ? t('alerts.rules.on') : t('alerts.rules.off')}
      {save.error && <span className="bad-text"> {apiErrorText(t, save.error)}</span>}
    </label>
  );
}

type Permission = ReturnType<typeof permission>;

/**
 * Built-in or custom rules on the console's DataTable, sorted by the server (name, last change)
 * in keyset pages; under `rulesKey`, so saving and deleting refetch it.
 */
function RulesTable({
  builtin,
  testId,
  mayChange,
  onEdit,
  onDelete,
  deleting,
  empty,
}: {
  builtin: boolean;
  testId: string;
  mayChange: (r: AlertRule) => Permission;
  onEdit: (r: AlertRule) => void;
  onDelete: (r: AlertRule) => void;
  deleting: boolean;
  empty: ReactNode;
}) {
  const { t } = useTranslation();
  const [ordering, setOrdering] = useState<string | null>(null);
  const query = useMemo(() => ({ builtin, ...(ordering ? { ordering } : {}) }), [builtin, ordering]);
  const list = useKeysetList<AlertRule>({
    queryKey: [...rulesKey, 'keyset', query],
    fetchPage: (cursor) => fetchKeysetPage<AlertRule>('/api/monitoring/rules/', query, cursor),
  });
  const columns = useMemo(
    (): ColumnDef<AlertRule>[] => [
      {
        id: 'name',
        meta: { label: t('alerts.rules.name'), sortKey: 'name', priority: 1 },
        cell: ({ row: { original: r } }) => (
          <>
            <strong>{r.name}</strong>
            {r.description && <div className="small muted">{r.description}</div>}
          </>
        ),
      },
      { id: 'severity', meta: { label: t('alerts.rules.severity'), priority: 1 }, cell: ({ row: { original: r } }) => <SeverityBadge severity={r.severity} /> },
      { id: 'condition', meta: { label: t('alerts.rules.condition'), priority: 2, className: 'small mono wrap-any' }, cell: ({ row: { original: r } }) => conditionText(t, r) },
      { id: 'scope', meta: { label: t('alerts.rules.scopeLabel'), priority: 3, className: 'small' }, cell: ({ row: { original: r } }) => scopeText(t, r) },
      {
        id: 'updated',
        meta: { label: t('lists.col.changed'), sortKey: 'updated', priority: 3, defaultHidden: true, className: 'small nowrap' },
        cell: ({ row: { original: r } }) => formatDateTime((r as AlertRule & { updated?: string }).updated) ?? '—',
      },
      {
        id: 'enabled',
        meta: { label: t('alerts.rules.enabled'), priority: 1 },
        cell: ({ row: { original: r } }) => <ToggleEnabled rule={r} allowed={mayChange(r).allowed} />,
      },
      {
        id: 'actions',
        meta: { label: t('alerts.col.actions'), priority: 1, className: 'actions-col' },
        cell: ({ row: { original: r } }) => {
          const change = mayChange(r);
          return (
            <div className="row-actions">
              <button type="button" className="btn btn-small" disabled={!change.allowed} title={change.reason || undefined} onClick={() => onEdit(r)} data-testid={`rule-edit-${r.id}`}>
                {t('alerts.rules.edit')}
              </button>
              {!r.builtin && (
                <button
                  type="button"
                  className="btn btn-small btn-danger-outline"
                  disabled={!change.allowed || deleting}
                  onClick={() => onDelete(r)}
                  data-testid={`rule-delete-${r.id}`}
                >
                  {t('alerts.rules.delete')}
                </button>
              )}
            </div>
          );
        },
      },
    ],
    [t, mayChange, onEdit, onDelete, deleting],
  );
  return (
    <DataTable<AlertRule>
      tableKey="alert.rules"
      label={builtin ? t('alerts.rules.builtin') : t('alerts.rules.custom')}
      columns={columns}
      rows={list.rows}
      getRowId={(r) => String(r.id)}
      ordering={ordering}
      onOrderingChange={setOrdering}
      {...pagingProps(list)}
      empty={empty}
      rowTestId={(r) => `rule-row-${r.builtin || r.id}`}
      testId={testId}
    />
  );
}

export function RulesPage() {
  const { t } = useTranslation();
  const infra = useManagesInfrastructure();
  const managed = useManagedWorkspaces();
  const remove = useDeleteRule();
  const [editing, setEditing] = useState<AlertRule | 'new' | null>(null);
  const mayChange = useMemo(
    () => (r: AlertRule) => {
      const ws = refId(r.workspace);
      const fallback = infra || (!r.builtin && ws !== null && managed.has(ws));
      return permission(t, r.permissions?.change, fallback, t('alerts.rules.notAllowed'));
    },
    [t, infra, managed],
  );
  const onDelete = useMemo(
    () => (r: AlertRule) => {
      if (window.confirm(t('alerts.rules.confirmDelete', { name: r.name }))) remove.mutate(r.id);
    },
    [t, remove],
  );
  const mayCreate = infra || managed.size > 0;
  return (
    <section className="page page-wide" data-testid="rules-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('alerts.rules.title')}</h1>
          <p className="muted">{t('alerts.rules.intro')}</p>
        </div>
        {mayCreate && (
          <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} data-testid="rule-new">
            {t('alerts.rules.new')}
          </button>
        )}
      </header>
      <AlertsTabs />
      {remove.error && (
        <div className="alert alert-error" role="alert">
          {apiErrorText(t, remove.error)}
        </div>
      )}
      {editing === 'new' && <CustomEditor rule={null} onDone={() => setEditing(null)} />}
      {editing && editing !== 'new' && (editing.builtin ? <BuiltinEditor key={editing.id} rule={editing} onDone={() => setEditing(null)} /> : <CustomEditor key={editing.id} rule={editing} onDone={() => setEditing(null)} />)}
      <section className="card">
        <h2 className="card-title">{t('alerts.rules.builtin')}</h2>
        <RulesTable
          builtin
          testId="builtin-rules"
          mayChange={mayChange}
          onEdit={setEditing}
          onDelete={onDelete}
          deleting={remove.isPending}
          empty={<p className="muted small">{t('alerts.rules.noBuiltin')}</p>}
        />
      </section>
      <section className="card">
        <h2 className="card-title">{t('alerts.rules.custom')}</h2>
        <RulesTable
          builtin={false}
          testId="custom-rules"
          mayChange={mayChange}
          onEdit={setEditing}
          onDelete={onDelete}
          deleting={remove.isPending}
          empty={
            <p className="muted small" data-testid="custom-empty">
              {t('alerts.rules.noCustom')}
            </p>
          }
        />
      </section>
    </section>
  );
}
