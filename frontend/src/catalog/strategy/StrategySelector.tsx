/**
 * The deploy strategy of a release (create or upgrade): rolling (maxSurge / maxUnavailable),
 * recreate, blue/green, canary (canary replicas). Errors come back as `strategy.<field>`.
 */
import { useTranslation } from 'react-i18next';
import { FormField } from '../../components/FormField';
import { STRATEGY_TYPES, type Strategy, type StrategyType } from './types';

/** `"25%"` stays a string; a plain whole number goes out as a number. */
function surge(text: string): string | number {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

export function StrategySelector({ value, onChange, errors = {} }: { value: Strategy; onChange: (s: Strategy) => void; errors?: Record<string, string[]> }) {
  const { t } = useTranslation();
  const err = (f: string) => errors[`strategy.${f}`] ?? [];
  const other = Object.entries(errors)
    .filter(([k]) => (k === 'strategy' || k.startsWith('strategy.')) && !['strategy.type', 'strategy.max_surge', 'strategy.max_unavailable', 'strategy.canary_replicas'].includes(k))
    .flatMap(([k, m]) => m.map((x) => `${k}: ${x}`));
  return (
    <fieldset className="form-stack" data-testid="strategy-selector" data-type={value.type}>
      <legend>{t('strategy.title')}</legend>
      <FormField label={t('strategy.type')} errors={err('type')}>
        <select name="strategy_type" data-testid="strategy-type" value={value.type} onChange={(e) => onChange({ ...value, type: e.target.value as StrategyType })}>
          {STRATEGY_TYPES.map((s) => (
            <option key={s} value={s}>
              {t(`strategy.types.${s}`)}
            </option>
          ))}
        </select>
      </FormField>
      <p className="small muted">{t(`strategy.help.${value.type}`)}</p>
      {value.type === 'rolling' && (
        <div className="form-row">
          <FormField label={t('strategy.maxSurge')} errors={err('max_surge')}>
            <input
              name="max_surge"
              data-testid="strategy-max-surge"
              value={String(value.max_surge ?? '25%')}
              onChange={(e) => onChange({ ...value, max_surge: surge(e.target.value) })}
            />
          </FormField>
          <FormField label={t('strategy.maxUnavailable')} errors={err('max_unavailable')}>
            <input
              name="max_unavailable"
              data-testid="strategy-max-unavailable"
              value={String(value.max_unavailable ?? '25%')}
              onChange={(e) => onChange({ ...value, max_unavailable: surge(e.target.value) })}
            />
          </FormField>
        </div>
      )}
      {value.type === 'canary' && (
        <FormField label={t('strategy.canaryReplicas')} errors={err('canary_replicas')}>
          <input
            name="canary_replicas"
            type="number"
            min={1}
            max={50}
            data-testid="strategy-canary-replicas"
            value={value.canary_replicas ?? 1}
            onChange={(e) => onChange({ ...value, canary_replicas: e.target.value === '' ? undefined : Number(e.target.value) })}
          />
        </FormField>
      )}
      {other.length > 0 && (
        <ul className="field-errors" role="alert">
          {other.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}

/** The body to send: only the keys the type uses (the server fills defaults). */
export function strategyBody(s: Strategy): Strategy {
  if (s.type === 'rolling') return { type: 'rolling', max_surge: s.max_surge ?? '25%', max_unavailable: s.max_unavailable ?? '25%' };
  if (s.type === 'canary') return { type: 'canary', canary_replicas: s.canary_replicas ?? 1 };
  return { type: s.type };
}
