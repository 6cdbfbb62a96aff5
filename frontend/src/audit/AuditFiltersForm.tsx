/** The audit log's filters: who, action, object, workspace, cluster, outcome and a day range. */
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { EMPTY_FILTERS, OUTCOMES, type AuditFilters } from './queries';
import './audit.css';

type TextKey = 'actor' | 'action' | 'target' | 'workspace' | 'cluster';

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
    const trimmed = { ...draft };
    for (const key of ['actor', 'action', 'target', 'workspace', 'cluster'] as const) trimmed[key] = draft[key].trim();
    onApply(trimmed);
  };

  const text = (key: TextKey, label: string, hint: string, maxLength: number) => (
    <label className="field">
      <span>{label}</span>
      <input
        name={key}
        value={draft[key]}
        maxLength={maxLength}
        placeholder={hint}
        onChange={(e) => set(key, e.target.value)}
        data-testid={`audit-filter-${key}`}
      />
    </label>
  );

  return (
    <form className="filters audit-filters" onSubmit={onSubmit} data-testid="audit-filters" aria-label={t('admin.audit.filter.legend')}>
      {text('actor', t('admin.audit.filter.actor'), t('admin.audit.filter.actorHint'), 150)}
      {text('action', t('admin.audit.filter.action'), t('admin.audit.filter.actionHint'), 100)}
      {text('target', t('admin.audit.filter.target'), t('admin.audit.filter.targetHint'), 300)}
      {text('workspace', t('admin.audit.filter.workspace'), t('admin.audit.filter.scopeHint'), 100)}
      {text('cluster', t('admin.audit.filter.cluster'), t('admin.audit.filter.scopeHint'), 100)}
      <label className="field">
        <span>{t('admin.audit.filter.outcome')}</span>
        <select
          name="outcome"
          value={draft.outcome}
          onChange={(e) => set('outcome', OUTCOMES.find((o) => o === e.target.value) ?? '')}
          data-testid="audit-filter-outcome"
        >
          <option value="">{t('admin.audit.filter.anyOutcome')}</option>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {t(`audit.outcome.${o}`)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t('admin.audit.filter.since')}</span>
        <input type="date" name="since" value={draft.from} onChange={(e) => set('from', e.target.value)} />
      </label>
      <label className="field">
        <span>{t('admin.audit.filter.until')}</span>
        <input type="date" name="until" value={draft.to} onChange={(e) => set('to', e.target.value)} />
      </label>
      <div className="filter-buttons">
        <button type="submit" className="btn btn-primary" data-testid="audit-filter-apply">
          {t('admin.audit.filter.apply')}
        </button>
        <button type="button" className="btn" onClick={() => onApply(EMPTY_FILTERS)} data-testid="audit-filter-reset">
          {t('admin.audit.filter.reset')}
        </button>
      </div>
    </form>
  );
}
