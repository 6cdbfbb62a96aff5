/**
 * /admin/audit: filterable, cursor-paged audit log. Filters and cursor live in
 * the URL so a view can be shared; live records arrive only on the unfiltered
 * first page.
 */
import { useMemo } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { Pager } from '../components/Pager';
import { AuditFiltersForm } from './AuditFiltersForm';
import { AuditList } from './AuditList';
import { OUTCOMES, hasFilters, useAuditRecords, useLiveAudit, type AuditFilters } from './queries';

const FILTER_PARAMS = ['actor', 'action', 'outcome', 'from', 'to'] as const;

function filtersFromParams(params: URLSearchParams): AuditFilters {
  const outcome = OUTCOMES.find((o) => o === params.get('outcome')) ?? '';
  return {
    actor: params.get('actor') ?? '',
    action: params.get('action') ?? '',
    outcome,
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
}

export function AuditPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const paramsKey = params.toString();
  const filters = useMemo(() => filtersFromParams(new URLSearchParams(paramsKey)), [paramsKey]);
  const cursor = params.get('cursor');
  const live = !hasFilters(filters) && !cursor;
  const records = useAuditRecords(filters, cursor);
  useLiveAudit(true);

  const update = (next: AuditFilters, nextCursor: string | null) => {
    const p = new URLSearchParams();
    for (const key of FILTER_PARAMS) if (next[key]) p.set(key, next[key]);
    if (nextCursor) p.set('cursor', nextCursor);
    setParams(p);
  };

  return (
    <section className="page" data-testid="audit-page">
      <header className="page-header">
        <h1>{t('audit.title')}</h1>
        <p className="muted">{t('audit.intro')}</p>
      </header>
      <AuditFiltersForm value={filters} onApply={(f) => update(f, null)} />
      <p className="muted small" data-testid="audit-live" data-live={live}>
        {live ? t('audit.live') : t('audit.liveOff')}
      </p>
      <section className="card">
        {records.isPending && <Loading />}
        {records.isError && <ErrorState error={records.error} onRetry={() => void records.refetch()} />}
        {records.data && (
          <>
            <AuditList records={records.data.results} />
            <Pager next={records.data.next} previous={records.data.previous} onPage={(c) => update(filters, c)} />
          </>
        )}
      </section>
    </section>
  );
}
