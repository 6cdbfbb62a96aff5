import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { EMPTY_FILTERS, OUTCOMES, type AuditFilters } from './queries';

export function AuditFiltersForm({
  value,
  onApply,
}: {
  value: AuditFilters;
  onApply: (filters: AuditFilters) => void;
}) {
  const { t } = useTranslation();
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  const set = <K extends keyof AuditFilters>(key: K, v: AuditFilters[K]) => setDraft((d) => ({ ...d, [key]: v }));

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    onApply({ ...draft, actor: draft.actor.trim(), action: draft.action.trim() });
  };

  return (
    <form className="filters" onSubmit={onSubmit} data-testid="audit-filters">
      <label className="field">
        <span>{t('audit.filter.actor')}</span>
        <input name="actor" value={draft.actor} onChange={(e) => set('actor', e.target.value)} />
      </label>
      <label className="field">
        <span>{t('audit.filter.action')}</span>
        <input name="action" value={draft.action} onChange={(e) => set('action', e.target.value)} />
      </label>
      <label className="field">
        <span>{t('audit.filter.outcome')}</span>
        <select
          name="outcome"
          value={draft.outcome}
          onChange={(e) => set('outcome', OUTCOMES.find((o) => o === e.target.value) ?? '')}
        >
          <option value="">{t('audit.filter.anyOutcome')}</option>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {t(`audit.outcome.${o}`)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t('audit.filter.from')}</span>
        <input type="date" name="since" value={draft.from} onChange={(e) => set('from', e.target.value)} />
      </label>
      <label className="field">
        <span>{t('audit.filter.to')}</span>
        <input type="date" name="until" value={draft.to} onChange={(e) => set('to', e.target.value)} />
      </label>
      <div className="filter-buttons">
        <button type="submit" className="btn btn-primary">
          {t('audit.filter.apply')}
        </button>
        <button type="button" className="btn" onClick={() => onApply(EMPTY_FILTERS)}>
          {t('audit.filter.reset')}
        </button>
      </div>
    </form>
  );
}
