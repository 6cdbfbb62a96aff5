/**
 * /admin/quotas (operators, admins): every allocation, per cluster × workspace, allocated/shared/
 * used, on the console's DataTable. The API answers the whole overview at once (one row per
 * allocation, aggregated), so the sort by cluster or workspace is done here.
 */
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { DataTable, type ColumnDef } from '../components/table';
import { sortRows } from '../lists/keyset';
import { QuotaBars } from './common';
import { orderedKeys } from './quantity';
import { useQuotaOverview } from './queries';

type QuotaRow = NonNullable<ReturnType<typeof useQuotaOverview>['data']>[number];

const SORT: Record<string, (r: QuotaRow) => string> = {
  cluster: (r) => `${r.cluster.name}\u0000${r.workspace.name}`,
  workspace: (r) => `${r.workspace.name}\u0000${r.cluster.name}`,
};

export function QuotaOverviewPage() {
  const { t } = useTranslation();
  const overview = useQuotaOverview();
  const [ordering, setOrdering] = useState<string | null>(null);
  const rows = useMemo(() => sortRows(overview.data ?? [], ordering ?? 'cluster', SORT), [overview.data, ordering]);
  const columns = useMemo(
    (): ColumnDef<QuotaRow>[] => [
      {
        id: 'cluster',
        meta: { label: t('workspaces.field.cluster'), sortKey: 'cluster', priority: 1 },
        cell: ({ row: { original: r } }) => <Link to={`/clusters/${r.cluster.id}`}>{r.cluster.display_name || r.cluster.name}</Link>,
      },
      {
        id: 'workspace',
        meta: { label: t('workspaces.servicemap.workspace'), sortKey: 'workspace', priority: 1 },
        cell: ({ row: { original: r } }) => <Link to={`/workspaces/${r.workspace.id}`}>{r.workspace.name}</Link>,
      },
      {
        id: 'use',
        meta: { label: t('workspaces.quotas.use'), priority: 1, className: 'bars-cell' },
        cell: ({ row: { original: r } }) => <QuotaBars keys={orderedKeys(r.quota)} total={r.quota} used={r.used} shared={r.shared} />,
      },
    ],
    [t],
  );
  return (
    <section className="page page-wide" data-testid="quotas-page">
      <header className="page-header">
        <h1>{t('workspaces.quotas.title')}</h1>
        <p className="muted">{t('workspaces.quotas.intro')}</p>
      </header>
      <section className="card">
        <p className="small muted">{t('workspaces.allocation.legend')}</p>
        <DataTable<QuotaRow>
          tableKey="quota"
          label={t('lists.quota')}
          columns={columns}
          rows={rows}
          getRowId={(r) => `${r.cluster.id}-${r.workspace.id}`}
          ordering={ordering}
          onOrderingChange={setOrdering}
          loading={overview.isPending}
          error={overview.error}
          empty={
            <p className="muted empty-line" data-testid="quotas-empty">
              {t('workspaces.quotas.empty')}
            </p>
          }
          rowTestId={(r) => `quota-row-${r.cluster.name}-${r.workspace.name}`}
          testId="quotas-table"
        />
      </section>
    </section>
  );
}
