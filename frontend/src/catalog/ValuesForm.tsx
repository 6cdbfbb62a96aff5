/**
 * The values of a release: a form generated from the version's `form` fields (dotted paths,
 * defaults shown until changed; only changed values are sent, Helm merges them over the chart's
 * own), or the raw values as a JSON object. Errors keyed `values.<path>` (400 answers, plan
 * errors) show at their field; the rest above the form.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { FormField } from '../components/FormField';
import { getPath, parseValues, pretty, setPath } from './common';
import type { FormField as Field, Values } from './types';

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function FieldInput({ field, value, onChange, errors }: { field: Field; value: unknown; onChange: (v: unknown) => void; errors: string[] }) {
  const { t } = useTranslation();
  const current = value === undefined ? field.default : value;
  const name = `values.${field.path}`;
  const label = field.required ? `${field.path} *` : field.path;
  let control;
  if (field.type === 'boolean') {
    control = (
      <input type="checkbox" name={name} data-testid={`value-${field.path}`} checked={current === true} onChange={(e) => onChange(e.target.checked)} />
    );
  } else if (field.enum && field.enum.length > 0) {
    control = (
      <select name={name} data-testid={`value-${field.path}`} value={stringify(current)} onChange={(e) => onChange(field.enum?.find((x) => stringify(x) === e.target.value))}>
        {current === undefined && <option value="">—</option>}
        {field.enum.map((x) => (
          <option key={stringify(x)} value={stringify(x)}>
            {stringify(x)}
          </option>
        ))}
      </select>
    );
  } else if (field.type === 'integer' || field.type === 'number') {
    control = <NumberInput name={name} testId={`value-${field.path}`} integer={field.type === 'integer'} value={current} onChange={onChange} />;
  } else if (field.type === 'object' || field.type === 'array') {
    control = <JsonInput name={name} value={current} onChange={onChange} />;
  } else {
    control = <input name={name} data-testid={`value-${field.path}`} className="mono" autoComplete="off" value={stringify(current)} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div>
      <FormField label={label} errors={errors}>
        {control}
      </FormField>
      {field.description && <p className="small muted values-field-desc">{field.description}</p>}
      {value !== undefined && (
        <button type="button" className="btn btn-small" data-testid={`value-reset-${field.path}`} onClick={() => onChange(undefined)}>
          {t('catalog.values.reset')}
        </button>
      )}
    </div>
  );
}

/** A number kept as typed text, so clearing the field does not bring the default back mid-edit. */
function NumberInput({ name, testId, integer, value, onChange, ...rest }: { name: string; testId: string; integer: boolean; value: unknown; onChange: (v: unknown) => void; id?: string }) {
  const shown = typeof value === 'number' ? String(value) : '';
  const [text, setText] = useState(shown);
  // A change from outside (reset to default, another version): show it.
  useEffect(() => {
    setText((t) => (t === '' || Number(t) !== value ? shown : t));
  }, [shown, value]);
  return (
    <input
      {...rest}
      type="number"
      name={name}
      data-testid={testId}
      step={integer ? 1 : 'any'}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        if (e.target.value !== '') onChange(Number(e.target.value));
      }}
      onBlur={() => {
        if (text === '') onChange(undefined);
      }}
    />
  );
}

/** An object or array field edited as JSON; kept as text until it parses. */
function JsonInput({ name, value, onChange, ...rest }: { name: string; value: unknown; onChange: (v: unknown) => void; id?: string }) {
  const { t } = useTranslation();
  const [text, setText] = useState(() => (value === undefined ? '' : JSON.stringify(value)));
  const [bad, setBad] = useState(false);
  return (
    <span>
      <textarea
        {...rest}
        name={name}
        className="mono"
        rows={2}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          try {
            onChange(e.target.value.trim() ? JSON.parse(e.target.value) : undefined);
            setBad(false);
          } catch {
            setBad(true);
          }
        }}
      />
      {bad && <span className="small bad-text">{t('catalog.values.badJson')}</span>}
    </span>
  );
}

export function ValuesForm({
  fields,
  values,
  onChange,
  errors,
  defaultsYaml,
}: {
  fields: Field[];
  values: Values;
  onChange: (values: Values) => void;
  errors: Record<string, string[]>;
  defaultsYaml?: string;
}) {
  const { t } = useTranslation();
  const [mode, setMode] = useState<'form' | 'raw'>(fields.length > 0 ? 'form' : 'raw');
  const [raw, setRaw] = useState(() => pretty(values));
  const [rawError, setRawError] = useState<'json' | 'object' | null>(null);
  const placed = new Set(fields.map((f) => `values.${f.path}`));
  const other = Object.entries(errors).filter(([k]) => !(mode === 'form' && placed.has(k)));
  return (
    <div className="form-stack" data-testid="values-form" data-mode={mode}>
      <div className="segmented" role="group" aria-label={t('catalog.values.mode')}>
        <button type="button" className={mode === 'form' ? 'active' : ''} data-testid="values-mode-form" disabled={fields.length === 0} onClick={() => setMode('form')}>
          {t('catalog.values.form')}
        </button>
        <button
          type="button"
          className={mode === 'raw' ? 'active' : ''}
          data-testid="values-mode-raw"
          onClick={() => {
            setRaw(pretty(values));
            setRawError(null);
            setMode('raw');
          }}
        >
          {t('catalog.values.raw')}
        </button>
      </div>
      {other.length > 0 && (
        <div className="alert alert-error" role="alert" data-testid="values-errors">
          <ul className="plain-list">
            {other.flatMap(([k, msgs]) => msgs.map((m) => <li key={`${k}${m}`}>{k === 'values' ? m : `${k}: ${m}`}</li>))}
          </ul>
        </div>
      )}
      {mode === 'form' ? (
        <div className="form-grid">
          {fields.map((f) => (
            <FieldInput
              key={f.path}
              field={f}
              value={getPath(values, f.path)}
              errors={errors[`values.${f.path}`] ?? []}
              onChange={(v) => onChange(setPath(values, f.path, v))}
            />
          ))}
        </div>
      ) : (
        <>
          <FormField label={t('catalog.values.rawLabel')} errors={rawError ? [t(`catalog.values.${rawError === 'json' ? 'badJson' : 'notObject'}`)] : []}>
            <textarea
              name="values"
              data-testid="values-raw"
              className="mono"
              rows={12}
              spellCheck={false}
              value={raw}
              onChange={(e) => {
                setRaw(e.target.value);
                const parsed = parseValues(e.target.value);
                if ('error' in parsed) setRawError(parsed.error);
                else {
                  setRawError(null);
                  onChange(parsed.values);
                }
              }}
            />
          </FormField>
          {defaultsYaml !== undefined && (
            <details>
              <summary className="small">{t('catalog.values.defaults')}</summary>
              <pre className="code-block">{defaultsYaml}</pre>
            </details>
          )}
        </>
      )}
    </div>
  );
}
