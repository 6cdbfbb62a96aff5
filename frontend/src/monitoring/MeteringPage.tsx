/**
 * /monitoring/metering — the monthly showback report: per workspace, cluster, service map or
 * workload, CPU core-hours and memory GiB-hours requested, used and billed (max(request, usage)) with
 * the cost from the price sheets; totals; idle capacity per cluster (allocatable − billed) for
 * those who see the infrastructure; a bar chart of the biggest rows; the same report as CSV.
 */
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router-dom';
import uPlot from 'uplot';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { useClusters } from '../clusters/queries';
import { useWorkspaces } from '../workspaces/queries';
import { meteringCsvUrl } from './api';
import { MonitoringPage } from './common';
import { hoursText, moneyText, num } from './format';
import { useMetering, useSeesInfrastructure } from './queries';
import { isMonth, monthOf } from './range';
import type { IdleRow, MeteringFigures, MeteringGroup, MeteringQuery, MeteringRow, Ref } from './types';
import { UPlotChart, type ChartOptions } from './UPlotChart';

export const GROUPS: MeteringGroup[] = ['workspace', 'cluster', 'servicemap', 'workload'];

/** How many rows the bar chart shows (the biggest). */
export const MAX_BARS = 20;

export function refText(ref: Ref | undefined): string {
  if (ref === null || ref === undefined) return '—';
  if (typeof ref === 'string') return ref;
  if (typeof ref === 'number') return `#${ref}`;
  if (ref.kind && ref.name) return `${ref.kind}/${ref.name}`;
  return ref.display_name || ref.name || ref.namespace || (ref.id ? `#${ref.id}` : '—');
}

/** The cost of a row or of the totals: in its one currency, or each currency's amount. */
export function costText(f: Pick<MeteringFigures, 'cost' | 'currency' | 'costs'>, lang: string): string {
  if (num(f.cost) !== null && f.currency) return moneyText(f.cost, f.currency, lang);
  const entries = Object.entries(f.costs ?? {});
  if (entries.length > 0) return entries.map(([currency, amount]) => moneyText(amount, currency, lang)).join(' + ');
  if (num(f.cost) !== null) return moneyText(f.cost, null, lang);
  return '—';
}

/** The name of a row in its group, with its context (the cluster of a service map …). */
export function rowLabel(row: MeteringRow, group: MeteringGroup): { name: string; context: string } {
  switch (group) {
    case 'workspace':
      return { name: refText(row.workspace), context: '' };
    case 'cluster':
      return { name: refText(row.cluster), context: '' };
    case 'servicemap':
      return { name: refText(row.service_map), context: [refText(row.workspace), refText(row.cluster)].filter((s) => s !== '—').join(' · ') };
    case 'workload': {
      const fromRef = (ref: Ref | undefined) => (typeof ref === 'object' && ref ? (ref.namespace ?? '') : '');
      const ns = fromRef(row.workload) || row.namespace || fromRef(row.service_map);
      return { name: refText(row.workload), context: [refText(row.cluster), ns].filter((s) => s && s !== '—').join(' / ') };
    }
  }
}

export function totalsOf(report: { totals?: MeteringFigures | null }): MeteringFigures | null {
  return report.totals ?? null;
}

/** The bars: rows by cost (or billed core-hours when nothing is priced), biggest first. */
export function barsOf(rows: MeteringRow[], group: MeteringGroup): { labels: string[]; values: number[]; measure: 'cost' | 'cpu' } {
  // costs are comparable only in one currency: bars of cost when every priced row has the same one
  const currencies = new Set(rows.filter((r) => num(r.cost) !== null).map((r) => r.currency ?? ''));
  const priced = currencies.size === 1 && rows.some((r) => (num(r.cost) ?? 0) !== 0);
  const value = (r: MeteringRow) => (priced ? (num(r.cost) ?? 0) : (num(r.cpu_core_hours_billed) ?? 0));
  const top = [...rows].sort((a, b) => value(b) - value(a)).slice(0, MAX_BARS);
  return { labels: top.map((r) => rowLabel(r, group).name), values: top.map(value), measure: priced ? 'cost' : 'cpu' };
}

function Figures({ f, lang }: { f: MeteringFigures; lang: string }) {
  const { t } = useTranslation();
  return (
    <>
      <td className="num small">{hoursText(f.cpu_core_hours_requested, lang)}</td>
      <td className="num small">{hoursText(f.cpu_core_hours_used, lang)}</td>
      <td className="num small strong">{hoursText(f.cpu_core_hours_billed, lang)}</td>
      <td className="num small">{hoursText(f.memory_gib_hours_requested, lang)}</td>
      <td className="num small">{hoursText(f.memory_gib_hours_used, lang)}</td>
      <td className="num small strong">{hoursText(f.memory_gib_hours_billed, lang)}</td>
      <td className="num small nowrap" data-testid="metering-cost" title={f.unpriced ? t('monitoring.metering.unpriced') : undefined}>
        {costText(f, lang)}
        {f.unpriced && <span className="warn-text"> *</span>}
      </td>
    </>
  );
}

function BarChart({ rows, group }: { rows: MeteringRow[]; group: MeteringGroup }) {
  const { t } = useTranslation();
  const bars = useMemo(() => barsOf(rows, group), [rows, group]);
  const label = bars.measure === 'cost' ? t('monitoring.metering.barCost') : t('monitoring.metering.barCpu');
  const options = useMemo<ChartOptions>(() => {
    const n = bars.values.length;
    return {
      // one bar per row at x = 0 … n-1, half a slot of margin on each side
      scales: { x: { time: false, range: () => [-0.5, n - 0.5] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { show: false },
      cursor: { show: true, points: { show: false } },
      series: [
        {},
        {
          label,
          stroke: '#1f6feb',
          fill: 'rgba(31, 111, 235, 0.55)',
          paths: uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 64] }) : undefined,
          points: { show: false },
        },
      ],
      axes: [
        {
          splits: () => bars.values.map((_, i) => i),
          values: (_u: uPlot, splits: number[]) => splits.map((v) => bars.labels[v] ?? ''),
          size: 40,
        },
        { size: 80 },
      ],
    };
  }, [bars, label]);
  const data = useMemo<uPlot.AlignedData>(() => [bars.values.map((_, i) => i), bars.values], [bars]);
  if (bars.values.length === 0) return null;
  return (
    <figure className="metric-panel" data-testid="metering-chart">
      <figcaption className="metric-panel-title">{label}</figcaption>
      <UPlotChart options={options} data={data} label={label} height={240} testId="metering-chart-plot" />
    </figure>
  );
}

function IdleTable({ idle }: { idle: IdleRow[] }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  return (
    <section className="card" data-testid="metering-idle">
      <h2 className="card-title">{t('monitoring.metering.idleTitle')}</h2>
      <p className="muted small">{t('monitoring.metering.idleHelp')}</p>
      <div className="table-wrap">
        <table className="table table-dense">
          <thead>
            <tr>
              <th scope="col">{t('monitoring.metering.col.cluster')}</th>
              <th scope="col" className="num">{t('monitoring.metering.col.cpuAllocatable')}</th>
              <th scope="col" className="num">{t('monitoring.metering.col.cpuIdle')}</th>
              <th scope="col" className="num">{t('monitoring.metering.col.memAllocatable')}</th>
              <th scope="col" className="num">{t('monitoring.metering.col.memIdle')}</th>
              <th scope="col" className="num">{t('monitoring.metering.col.cost')}</th>
            </tr>
          </thead>
          <tbody>
            {idle.map((r, i) => (
              <tr key={`${refText(r.cluster)}-${i}`} data-testid="idle-row">
                <td>{refText(r.cluster)}</td>
                <td className="num small">{hoursText(r.cpu_core_hours_allocatable, lang)}</td>
                <td className="num small">{hoursText(r.cpu_core_hours_idle, lang)}</td>
                <td className="num small">{hoursText(r.memory_gib_hours_allocatable, lang)}</td>
                <td className="num small">{hoursText(r.memory_gib_hours_idle, lang)}</td>
                <td className="num small">{costText(r, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function MeteringPage() {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const [params, setParams] = useSearchParams();
  const { sees } = useSeesInfrastructure();
  const monthParam = params.get('month');
  const month = isMonth(monthParam) ? monthParam : monthOf(new Date());
  const groupParam = params.get('group') as MeteringGroup | null;
  const group: MeteringGroup = groupParam && GROUPS.includes(groupParam) ? groupParam : 'workspace';
  const workspace = Number(params.get('workspace')) || undefined;
  const clusterFilter = Number(params.get('cluster')) || undefined;
  const query: MeteringQuery = { month, group, ...(workspace ? { workspace } : {}), ...(clusterFilter ? { cluster: clusterFilter } : {}) };
  const workspaces = useWorkspaces({});
  const clusters = useClusters({ page_size: 200 }, { enabled: sees });
  const report = useMetering(query);
  const rows = report.data?.rows ?? [];
  const totals = report.data ? totalsOf(report.data) : null;
  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  return (
    <MonitoringPage
      title={t('monitoring.metering.title')}
      testId="monitoring-metering"
      actions={
        <a className="btn" href={meteringCsvUrl(query)} download={`metering-${month}-${group}.csv`} data-testid="metering-csv">
          {t('monitoring.metering.csv')}
        </a>
      }
    >
      <p className="muted">{t('monitoring.metering.intro')}</p>
      <div className="filters">
        <FormField label={t('monitoring.metering.month')}>
          <input type="month" name="month" data-testid="metering-month" value={month} onChange={(e) => isMonth(e.target.value) && setParam('month', e.target.value)} />
        </FormField>
        <FormField label={t('monitoring.metering.groupBy')}>
          <select name="group" data-testid="metering-group" value={group} onChange={(e) => setParam('group', e.target.value === 'workspace' ? '' : e.target.value)}>
            {GROUPS.map((g) => (
              <option key={g} value={g}>
                {t(`monitoring.metering.group.${g}`)}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('monitoring.metering.workspace')}>
          <select name="workspace" data-testid="metering-workspace" value={workspace ? String(workspace) : ''} onChange={(e) => setParam('workspace', e.target.value)}>
            <option value="">{t('monitoring.metering.allWorkspaces')}</option>
            {(workspaces.data?.results ?? []).map((w) => (
              <option key={w.id} value={String(w.id)}>
                {w.display_name || w.name}
              </option>
            ))}
          </select>
        </FormField>
        {sees && (
          <FormField label={t('monitoring.metering.cluster')}>
            <select name="cluster" data-testid="metering-cluster" value={clusterFilter ? String(clusterFilter) : ''} onChange={(e) => setParam('cluster', e.target.value)}>
              <option value="">{t('monitoring.metering.allClusters')}</option>
              {(clusters.data?.results ?? []).map((c) => (
                <option key={c.id} value={String(c.id)}>
                  {c.display_name || c.name}
                </option>
              ))}
            </select>
          </FormField>
        )}
      </div>
      <section className="card card-flush">
        {report.isPending && <Loading />}
        {report.isError && <ErrorState error={report.error} onRetry={() => void report.refetch()} />}
        {report.data && rows.length === 0 && <EmptyState title={t('monitoring.metering.empty', { month })} testId="metering-empty" />}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense" data-testid="metering-table">
              <thead>
                <tr>
                  <th scope="col" rowSpan={2}>
                    {t(`monitoring.metering.group.${group}`)}
                  </th>
                  <th scope="colgroup" colSpan={3} className="num">
                    {t('monitoring.metering.col.cpu')}
                  </th>
                  <th scope="colgroup" colSpan={3} className="num">
                    {t('monitoring.metering.col.memory')}
                  </th>
                  <th scope="col" rowSpan={2} className="num">
                    {t('monitoring.metering.col.cost')}
                  </th>
                </tr>
                <tr>
                  <th scope="col" className="num">{t('monitoring.metering.col.requested')}</th>
                  <th scope="col" className="num">{t('monitoring.metering.col.used')}</th>
                  <th scope="col" className="num">{t('monitoring.metering.col.billed')}</th>
                  <th scope="col" className="num">{t('monitoring.metering.col.requested')}</th>
                  <th scope="col" className="num">{t('monitoring.metering.col.used')}</th>
                  <th scope="col" className="num">{t('monitoring.metering.col.billed')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r, i) => {
                  const label = rowLabel(r, group);
                  return (
                    <tr key={`${label.name}-${label.context}-${i}`} data-testid="metering-row">
                      <td className="wrap-any">
                        <span data-testid="metering-name">{label.name === '—' ? t(`monitoring.metering.none.${group}`) : label.name}</span>
                        {label.context && <div className="muted small">{label.context}</div>}
                      </td>
                      <Figures f={r} lang={lang} />
                    </tr>
                  );
                })}
              </tbody>
              {totals && (
                <tfoot>
                  <tr className="totals-row" data-testid="metering-total">
                    <th scope="row">{t('monitoring.metering.total')}</th>
                    <Figures f={totals} lang={lang} />
                  </tr>
                </tfoot>
              )}
            </table>
          </div>
        )}
      </section>
      {rows.some((r) => r.unpriced) && <p className="small warn-text">* {t('monitoring.metering.unpriced')}</p>}
      {rows.length > 0 && (
        <section className="card">
          <BarChart rows={rows} group={group} />
        </section>
      )}
      {sees && report.data?.idle && report.data.idle.length > 0 && <IdleTable idle={report.data.idle} />}
    </MonitoringPage>
  );
}
