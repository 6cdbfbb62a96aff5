/**
 * Key/value rows of a ConfigMap or Secret. A Secret value the user has not revealed shows as
 * "•••• (hidden)" with a Replace button; untouched, it is sent as `null` (the server keeps it).
 * Existing keys are renamed by removing and adding (a hidden value cannot follow a new name).
 */
import { useTranslation } from 'react-i18next';

export interface KvRow {
  key: string;
  /** `null`: a hidden secret value, kept unless replaced. */
  value: string | null;
  existing: boolean;
}

export function rowsToData(rows: KvRow[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const r of rows) if (r.key.trim()) out[r.key.trim()] = r.value;
  return out;
}

export function KeyValueRows({ rows, onChange, errors }: { rows: KvRow[]; onChange: (rows: KvRow[]) => void; errors?: string[] }) {
  const { t } = useTranslation();
  const set = (i: number, patch: Partial<KvRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="kv-rows" data-testid="config-rows">
      <legend>{t('config.data')}</legend>
      {rows.map((r, i) => (
        <div className="form-row kv-row" key={i} data-testid={`config-row-${i}`}>
          <input
            name={`key-${i}`}
            aria-label={t('config.key')}
            placeholder={t('config.key')}
            className="mono"
            data-testid={`config-key-${i}`}
            value={r.key}
            readOnly={r.existing}
            onChange={(e) => set(i, { key: e.target.value })}
          />
          {r.value === null ? (
            <span className="kv-hidden">
              <span className="muted mono" data-testid={`secret-hidden-${i}`}>
                {t('config.hidden')}
              </span>{' '}
              <button type="button" className="btn btn-small" data-testid={`replace-value-${i}`} onClick={() => set(i, { value: '' })}>
                {t('config.replace')}
              </button>
            </span>
          ) : (
            <textarea
              name={`value-${i}`}
              aria-label={t('config.value')}
              placeholder={t('config.value')}
              className="mono"
              rows={1}
              data-testid={`config-value-${i}`}
              value={r.value}
              onChange={(e) => set(i, { value: e.target.value })}
            />
          )}
          <button
            type="button"
            className="btn btn-small"
            aria-label={t('config.removeRow')}
            data-testid={`remove-config-row-${i}`}
            onClick={() => onChange(rows.filter((_, j) => j !== i))}
          >
            ×
          </button>
        </div>
      ))}
      <button type="button" className="btn btn-small" data-testid="add-config-row" onClick={() => onChange([...rows, { key: '', value: '', existing: false }])}>
        {t('config.addRow')}
      </button>
      {errors && errors.length > 0 && (
        <ul className="field-errors" role="alert">
          {errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}
