/**
 * /admin/audit: the audit log with filters (who, action, object, workspace, cluster, outcome,
 * days), live records that match them, keyset paging as the table scrolls, and a CSV export of
 * what the filters select. Filters live in the URL so a view can be shared.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { apiErrorText } from '../lib/messages';
import { formatDateTime } from '../lib/format';
import { AuditFiltersForm } from './AuditFiltersForm';
import { AuditList } from './AuditList';
import { pagingProps } from '../components/table';
import {
  EXPORT_LIMIT,
  FILTER_KEYS,
  OUTCOMES,
  activeFilterCount,
  downloadExport,
  useAuditList,
  useLiveAudit,
  type AuditFilters,
} from './queries';

function filtersFromParams(params: URLSearchParams): AuditFilters {
  const outcome = OUTCOMES.find((o) => o === params.get('outcome')) ?? '';
  return {
    actor: params.get('actor') ?? '',
    action: params.get('action') ?? '',
    target: params.get('target') ?? '',
    workspace: params.get('workspace') ?? '',
    cluster: params.get('cluster') ?? '',
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
  const list = useAuditList(filters);
  const [updatedAt, setUpdatedAt] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<unknown>(null);
  const touch = useCallback(() => setUpdatedAt(new Date().toISOString()), []);
  useLiveAudit(filters, touch);
  useEffect(() => {
    if (!list.isLoading && !list.error) touch();
  }, [list.isLoading, list.error, touch]);

  const apply = (next: AuditFilters) => {
    const p = new URLSearchParams();
    for (const key of FILTER_KEYS) if (next[key]) p.set(key, next[key]);
    setParams(p);
    setExportError(null);
  };

  const onExport = async () => {
    setExporting(true);
    setExportError(null);
    try {
      await downloadExport(filters);
    } catch (error) {
      setExportError(error);
    } finally {
      setExporting(false);
    }
  };

  const count = activeFilterCount(filters);
  const toolbar = (
    <>
      <span className="muted small" data-testid="audit-live" data-live="true" role="status">
        {count > 0 ? t('admin.audit.live.filtered') : t('admin.audit.live.on')}{' '}
        {updatedAt && <span data-testid="audit-updated">{t('admin.audit.live.updated', { time: formatDateTime(updatedAt) ?? '' })}</span>}
      </span>
      <button
        type="button"
        className="btn"
        data-testid="audit-export"
        onClick={() => void onExport()}
        disabled={exporting}
        aria-busy={exporting}
        title={t('admin.audit.export.hint', { limit: EXPORT_LIMIT.toLocaleString() })}
      >
        {t('admin.audit.export.button')}
      </button>
    </>
  );

  return (
    <section className="page" data-testid="audit-page">
      <header className="page-header">
        <h1>{t('audit.title')}</h1>
        <p className="muted">{t('audit.intro')}</p>
      </header>
      <AuditFiltersForm value={filters} onApply={apply} />
      {count > 0 && (
        <p className="muted small" data-testid="audit-filter-count">
          {t('admin.audit.filter.active', { count })}
        </p>
      )}
      {exportError !== null && (
        <div className="alert alert-error" role="alert" data-testid="audit-export-error">
          {apiErrorText(t, exportError)}
        </div>
      )}
      <section className="card card-flush">
        <AuditList
          records={list.rows}
          {...pagingProps(list)}
          empty={<p className="muted" data-testid="audit-empty">{t('audit.empty')}</p>}
          toolbar={toolbar}
        />
      </section>
    </section>
  );
}
