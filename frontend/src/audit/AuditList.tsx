/** The audit records on the console's DataTable: newest first (the log has one order), paged by keyset. */
import { useMemo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { DataTable, type ColumnDef } from '../components/table';
import { formatDateTime } from '../lib/format';
import { auditActionLabel, auditTargetLabel } from './labels';
import type { AuditScope, ScopedAuditRecord } from './types';

function Target({ record }: { record: ScopedAuditRecord }) {
  const { t } = useTranslation();
  if (!record.target_type && !record.target_repr) return <>{t('common.none')}</>;
  return (
    <span className="audit-target" title={record.target_id ? `${record.target_type} #${record.target_id}` : record.target_type}>
      <span className="muted">{auditTargetLabel(t, record.target_type)}</span> {record.target_repr || record.target_id}
    </span>
  );
}

function Scope({ scope }: { scope: AuditScope | null | undefined }) {
  const { t } = useTranslation();
  if (!scope) return <span className="muted">{t('common.none')}</span>;
  return <span title={scope.id !== null ? `#${scope.id}` : undefined}>{scope.name || `#${scope.id}`}</span>;
}

export function AuditList({
  records,
  hasMore,
  loadingMore,
  onLoadMore,
  loading,
  error,
  empty,
  toolbar,
}: {
  records: readonly ScopedAuditRecord[];
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore: () => void;
  loading: boolean;
  error: unknown;
  empty: ReactNode;
  toolbar?: ReactNode;
}) {
  const { t } = useTranslation();
  const columns = useMemo<ColumnDef<ScopedAuditRecord, unknown>[]>(
    () => [
      {
        id: 'time',
        cell: ({ row }) => formatDateTime(row.original.timestamp),
        meta: { label: t('audit.col.time'), className: 'nowrap', cellTestId: 'audit-time' },
      },
      {
        id: 'actor',
        cell: ({ row }) => row.original.actor ?? <span className="muted">{t('audit.system')}</span>,
        meta: { label: t('audit.col.actor'), cellTestId: 'audit-actor' },
      },
      {
        id: 'action',
        cell: ({ row }) => (
          <span title={row.original.action} data-testid="audit-action" data-action={row.original.action}>
            {auditActionLabel(t, row.original.action)}
          </span>
        ),
        meta: { label: t('audit.col.action') },
      },
      {
        id: 'target',
        cell: ({ row }) => <Target record={row.original} />,
        meta: { label: t('audit.col.target'), cellTestId: 'audit-target' },
      },
      {
        id: 'workspace',
        cell: ({ row }) => <Scope scope={row.original.workspace} />,
        meta: { label: t('admin.audit.col.workspace'), priority: 2, cellTestId: 'audit-workspace' },
      },
      {
        id: 'cluster',
        cell: ({ row }) => <Scope scope={row.original.cluster} />,
        meta: { label: t('admin.audit.col.cluster'), priority: 2, cellTestId: 'audit-cluster' },
      },
      {
        id: 'outcome',
        cell: ({ row }) => (
          <>
            <span className={`badge badge-${row.original.outcome}`}>{t(`audit.outcome.${row.original.outcome}`)}</span>
            {row.original.status_code !== null && <span className="muted small"> {row.original.status_code}</span>}
          </>
        ),
        meta: { label: t('audit.col.outcome'), className: 'nowrap', cellTestId: 'audit-outcome' },
      },
      {
        id: 'source_ip',
        cell: ({ row }) => <span className="mono">{row.original.source_ip ?? t('common.none')}</span>,
        meta: { label: t('audit.col.sourceIp'), priority: 3 },
      },
      {
        id: 'request_id',
        cell: ({ row }) => <span className="mono small">{row.original.request_id}</span>,
        meta: { label: t('audit.col.requestId'), priority: 3 },
      },
    ],
    [t],
  );
  return (
    <DataTable<ScopedAuditRecord>
      tableKey="audit"
      label={t('admin.audit.table')}
      columns={columns}
      rows={records}
      getRowId={(r) => String(r.id)}
      hasMore={hasMore}
      loadingMore={loadingMore}
      onLoadMore={onLoadMore}
      loading={loading}
      error={error}
      empty={empty}
      toolbar={toolbar}
      rowTestId={(r) => `audit-row-${r.id}`}
      testId="audit-list"
    />
  );
}
