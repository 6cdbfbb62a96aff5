/** Pieces shared by the workspaces pages: quota bars, status badges, quota fields, form errors. */
import { useTranslation } from 'react-i18next';
import type { ApiError } from '../api/errors';
import { UsageBar } from '../components/UsageBar';
import { apiErrorText } from '../lib/messages';
import { FormField } from '../components/FormField';
import { parseQuantity, percent } from './quantity';
import type { Quota } from './types';

/** One resource: "used / total" and a bar; `shared` (optional) is the lighter band. */
const QUOTA_LABEL_IDS: Record<string, string> = {
  'requests.cpu': 'requestsCpu',
  'requests.memory': 'requestsMemory',
  'limits.cpu': 'limitsCpu',
  'limits.memory': 'limitsMemory',
  pods: 'pods',
  services: 'services',
  'services.loadbalancers': 'loadBalancers',
  'services.nodeports': 'nodePorts',
  persistentvolumeclaims: 'pvcs',
  'requests.storage': 'requestsStorage',
  configmaps: 'configMaps',
  secrets: 'secrets',
};

/**
 * A quota key in words (issue 22: raw keys such as `requests.cpu` were the labels): a translated
 * label, its unit (cores, GiB, count) and a hint; per-storage-class keys name their class. The
 * raw key stays visible in small type beside it, for those who know it.
 */
export function useQuotaLabel(): (key: string) => { label: string; unit: string; hint: string } {
  const { t } = useTranslation();
  return (key) => {
    const perClass = key.match(/^(.+)\.storageclass\.storage\.k8s\.io\/(.+)$/);
    const id = QUOTA_LABEL_IDS[perClass ? perClass[2]! : key];
    if (!id) return { label: key, unit: '', hint: '' };
    const base = t(`workspaces.quotaKey.${id}.label` as 'workspaces.quotaKey.pods.label');
    return {
      label: perClass ? t('workspaces.quotaKey.perClass', { label: base, cls: perClass[1] }) : base,
      unit: t(`workspaces.quotaKey.${id}.unit` as 'workspaces.quotaKey.pods.unit'),
      hint: t(`workspaces.quotaKey.${id}.hint` as 'workspaces.quotaKey.pods.hint'),
    };
  };
}

/** "CPU 요청 (코어)" with the key in small type under it (`bare`: the words only). */
export function QuotaKeyLabel({ resource, bare = false }: { resource: string; bare?: boolean }) {
  const { label, unit, hint } = useQuotaLabel()(resource);
  return (
    <span className="quota-key-label" title={hint || undefined} data-testid={`quota-label-${resource}`}>
      <span>
        {label}
        {unit && <span className="muted"> ({unit})</span>}
      </span>
      {!bare && label !== resource && <span className="mono small muted quota-raw-key"> {resource}</span>}
    </span>
  );
}

export function QuotaBar({
  resource,
  used,
  total,
  shared,
  testId,
  labelled = true,
}: {
  resource: string;
  used: string | undefined;
  total: string | undefined;
  shared?: string | undefined;
  testId?: string;
  /** false where the label is already beside the bar (a facts list): only the figures. */
  labelled?: boolean;
}) {
  const { t } = useTranslation();
  const words = useQuotaLabel()(resource).label;
  const cap = parseQuantity(total);
  const pct = percent(used, total);
  const label =
    shared !== undefined
      ? t('workspaces.quota.barShared', { resource: words, used: used ?? '0', shared: shared ?? '0', total: total ?? '—' })
      : t('workspaces.quota.bar', { resource: words, used: used ?? '0', total: total ?? '—' });
  return (
    <div className="quota-bar" data-testid={testId} data-resource={resource} data-used={used ?? '0'} data-total={total ?? ''} data-percent={pct ?? ''}>
      <div className="quota-bar-text">
        {labelled ? <QuotaKeyLabel resource={resource} /> : <span className="mono small muted">{resource}</span>}
        <span className="small">
          {used ?? '0'}
          {shared !== undefined && <span className="muted"> · {t('workspaces.quota.sharedShort', { shared: shared ?? '0' })}</span>} / {total ?? '—'}
        </span>
      </div>
      <UsageBar capacity={cap} allocatable={parseQuantity(shared)} requested={parseQuantity(used)} label={label} />
    </div>
  );
}

/** Bars for every key of a quota (`total`), with `used` and optionally `shared` beside them. */
export function QuotaBars({
  keys,
  total,
  used,
  shared,
  testId,
}: {
  keys: string[];
  total: Quota;
  used: Quota;
  shared?: Quota;
  testId?: string;
}) {
  const { t } = useTranslation();
  if (keys.length === 0) return <span className="muted small">{t('workspaces.quota.none')}</span>;
  return (
    <div className="quota-bars" data-testid={testId}>
      {keys.map((k) => (
        <QuotaBar key={k} resource={k} used={used[k]} total={total[k]} shared={shared ? (shared[k] ?? '0') : undefined} testId={`quota-${k}`} />
      ))}
    </div>
  );
}

const BUILTIN_ROLES = ['manager', 'developer', 'viewer'] as const;

/**
 * A workspace role's name as shown everywhere (issue 22: "Developer" here, "developer" there):
 * the built-in roles translated (관리자, 개발자, 조회자), a custom role by its name, else its key.
 */
export function useRoleLabel(): (key: string, name?: string) => string {
  const { t } = useTranslation();
  return (key, name) => {
    const builtin = BUILTIN_ROLES.find((k) => k === key);
    return builtin ? t(`workspaces.roleName.${builtin}`) : name || key;
  };
}

const STATUS_TONE: Record<string, string> = { ready: 'tone-ok', pending: 'tone-warn', deleting: 'tone-warn', error: 'tone-bad' };

export function StateBadge({ status, message, testId }: { status: string; message?: string; testId?: string }) {
  const { t } = useTranslation();
  const known = ['pending', 'ready', 'error', 'deleting'] as const;
  const s = known.find((k) => k === status);
  return (
    <span className={`badge ${STATUS_TONE[status] ?? 'tone-neutral'}`} title={message || undefined} data-testid={testId} data-status={status}>
      {s ? t(`workspaces.status.${s}`) : status}
    </span>
  );
}

/** The server's detail and any field errors that have no input of their own. */
export function FormError({ error, fields, testId }: { error: ApiError | null; fields: string[]; testId: string }) {
  const { t } = useTranslation();
  if (!error) return null;
  const placed = (f: string) => fields.includes(f) || fields.some((p) => p.endsWith('.*') && f.startsWith(p.slice(0, -1)));
  const other = Object.entries(error.fieldErrors)
    .filter(([f]) => !placed(f))
    .flatMap(([f, m]) => m.map((x) => (f === 'non_field_errors' ? x : `${f}: ${x}`)));
  const anyPlaced = Object.keys(error.fieldErrors).some(placed);
  if (anyPlaced && other.length === 0) return null;
  return (
    <div className="alert alert-error" role="alert" data-testid={testId} data-status={error.status}>
      <div>
        {apiErrorText(t, error)}
        {other.map((m) => (
          <div key={m}>{m}</div>
        ))}
      </div>
    </div>
  );
}

/**
 * Inputs for quota keys. `remaining` (optional) shows what is left per key ("at most 2"), and
 * `allowed` restricts the keys to those (a share cannot set a key its allocation does not set).
 */
export function QuotaFields({
  keys,
  value,
  onChange,
  error,
  remaining,
}: {
  keys: string[];
  value: Record<string, string>;
  onChange: (next: Record<string, string>) => void;
  error: ApiError | null;
  remaining?: Quota;
}) {
  const { t } = useTranslation();
  const quotaLabel = useQuotaLabel();
  return (
    <fieldset className="quota-fields" data-testid="quota-fields">
      <legend>{t('workspaces.quota.title')}</legend>
      {remaining && <p className="small muted">{t('workspaces.quota.emptyIsZero')}</p>}
      <div className="form-grid">
        {keys.map((k) => {
          const { label, unit, hint } = quotaLabel(k);
          const words = unit ? `${label} (${unit})` : label;
          return (
            <div key={k} className="quota-field" data-testid={`quota-field-${k}`}>
              <FormField
                label={remaining ? `${words} · ${t('workspaces.quota.remaining', { value: remaining[k] ?? '0' })}` : words}
                errors={[...(error?.forField(`quota.${k}`) ?? [])]}
              >
                <input
                  name={`quota.${k}`}
                  data-testid={`quota-input-${k}`}
                  className="mono"
                  autoComplete="off"
                  placeholder={remaining ? t('workspaces.quota.emptyMeansZero') : t('workspaces.quota.emptyMeansUnset')}
                  value={value[k] ?? ''}
                  onChange={(e) => onChange({ ...value, [k]: e.target.value })}
                />
              </FormField>
              <p className="small muted quota-hint">
                {label !== k && <span className="mono">{k}</span>}
                {hint && <> · {hint}</>}
              </p>
            </div>
          );
        })}
      </div>
      {(error?.forField('quota') ?? []).map((m) => (
        <p key={m} className="field-errors" role="alert">
          {m}
        </p>
      ))}
    </fieldset>
  );
}

/** A 409 about current use can be overridden with `force`: show the checkbox only then. */
export function isUsageConflict(error: ApiError | null): boolean {
  return error?.status === 409;
}
