/** Pieces the monitoring pages share: the section's tabs, the time range picker, top-N tables. */
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, NavLink, useSearchParams } from 'react-router-dom';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { coresText, bytesText, percentText } from './format';
import { useSeesInfrastructure, useTop } from './queries';
import { PRESETS, fromLocalInput, parseRange, toLocalInput, withRange, type RangeChoice } from './range';
import type { TopItem, TopResource, TopWhat } from './types';
import './monitoring.css';

export function MonitoringTabs() {
  const { t } = useTranslation();
  const { isAdmin } = useSeesInfrastructure();
  const tabs: [string, string, boolean][] = [
    ['/monitoring', t('monitoring.tabs.overview'), true],
    ['/monitoring/events', t('monitoring.tabs.events'), false],
    ['/monitoring/metering', t('monitoring.tabs.metering'), false],
  ];
  if (isAdmin) tabs.push(['/monitoring/prices', t('monitoring.tabs.prices'), false]);
  return (
    <nav className="tabs monitoring-tabs" aria-label={t('monitoring.title')} data-testid="monitoring-tabs">
      {tabs.map(([to, label, end]) => (
        <NavLink key={to} to={to} end={end} className={({ isActive }) => `tab${isActive ? ' active' : ''}`}>
          {label}
        </NavLink>
      ))}
    </nav>
  );
}

/** A page of the section: title, optional crumbs and actions, the tabs. */
export function MonitoringPage({ title, crumbs, actions, testId, children }: { title: string; crumbs?: ReactNode; actions?: ReactNode; testId: string; children: ReactNode }) {
  const { t } = useTranslation();
  return (
    <section className="page page-wide monitoring-page" data-testid={testId}>
      <header className="page-header page-header-row">
        <div>
          <nav className="breadcrumbs small" aria-label={t('monitoring.crumbs')}>
            <Link to="/monitoring">{t('monitoring.title')}</Link>
            {crumbs}
          </nav>
          <h1>{title}</h1>
        </div>
        {actions && <div className="header-actions">{actions}</div>}
      </header>
      <MonitoringTabs />
      {children}
    </section>
  );
}

/** The range in the URL (`?range=6h`, `?range=custom&from=&to=`). */
export function useRange(): [RangeChoice, (choice: RangeChoice) => void] {
  const [params, setParams] = useSearchParams();
  return [parseRange(params), (choice) => setParams(withRange(params, choice), { replace: true })];
}

export function RangePicker({ value, onChange }: { value: RangeChoice; onChange: (choice: RangeChoice) => void }) {
  const { t } = useTranslation();
  const [custom, setCustom] = useState(value.kind === 'custom');
  const nowS = Math.floor(Date.now() / 1000);
  const [from, setFrom] = useState(toLocalInput(value.kind === 'custom' ? value.from : nowS - 86400));
  const [to, setTo] = useState(toLocalInput(value.kind === 'custom' ? value.to : nowS));
  const fromS = fromLocalInput(from);
  const toS = fromLocalInput(to);
  const valid = fromS !== null && toS !== null && toS > fromS;
  return (
    <div className="range-picker" data-testid="range-picker">
      <div className="segmented" role="group" aria-label={t('monitoring.range.label')}>
        {PRESETS.map((p) => (
          <button
            key={p}
            type="button"
            className={!custom && value.kind === 'preset' && value.preset === p ? 'active' : undefined}
            aria-pressed={!custom && value.kind === 'preset' && value.preset === p}
            data-testid={`range-${p}`}
            onClick={() => {
              setCustom(false);
              onChange({ kind: 'preset', preset: p });
            }}
          >
            {t(`monitoring.range.${p}`)}
          </button>
        ))}
        <button type="button" className={custom ? 'active' : undefined} aria-pressed={custom} data-testid="range-custom" onClick={() => setCustom(true)}>
          {t('monitoring.range.custom')}
        </button>
      </div>
      {custom && (
        <form
          className="range-custom"
          onSubmit={(e) => {
            e.preventDefault();
            if (valid) onChange({ kind: 'custom', from: fromS, to: toS });
          }}
        >
          <label className="field">
            <span>{t('monitoring.range.from')}</span>
            <input type="datetime-local" name="from" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="range-from" />
          </label>
          <label className="field">
            <span>{t('monitoring.range.to')}</span>
            <input type="datetime-local" name="to" value={to} onChange={(e) => setTo(e.target.value)} data-testid="range-to" />
          </label>
          <button type="submit" className="btn btn-small" disabled={!valid} data-testid="range-apply">
            {t('monitoring.range.apply')}
          </button>
          {!valid && <span className="small bad-text">{t('monitoring.range.invalid')}</span>}
        </form>
      )}
    </div>
  );
}

/** Where a top-N row leads: a node's or a pod's chart. */
export function topLink(what: TopWhat, item: TopItem): string | null {
  const cluster = item.cluster_id;
  if (!cluster) return null;
  if (what === 'nodes_fullest') return `/monitoring/clusters/${cluster}/nodes/${encodeURIComponent(item.name)}`;
  if (!item.namespace) return null;
  return `/monitoring/clusters/${cluster}/pods/${encodeURIComponent(item.namespace)}/${encodeURIComponent(item.name)}`;
}

export function valueText(item: TopItem, resource?: TopResource): string {
  const unit = item.unit ?? (resource === 'memory' ? 'bytes' : 'cores');
  return unit === 'bytes' ? bytesText(item.value) : coresText(item.value);
}

export function TopTable({ what, scope, title }: { what: TopWhat; scope: { cluster?: number; workspace?: number; service_map?: number }; title?: string }) {
  const { t } = useTranslation();
  const [resource, setResource] = useState<TopResource | undefined>(undefined);
  const top = useTop(what, scope, 10, true, resource);
  const items = top.data?.items ?? [];
  const shown = resource ?? top.data?.resource;
  return (
    <section className="card top-card" data-testid={`top-${what}`}>
      <div className="chart-card-header">
        <h2 className="card-title">{title ?? t(`monitoring.top.${what}`)}</h2>
        <div className="segmented" role="group" aria-label={t('monitoring.top.resource')}>
          {(['cpu', 'memory'] as const).map((r) => (
            <button key={r} type="button" className={shown === r ? 'active' : undefined} aria-pressed={shown === r} data-testid={`top-${what}-${r}`} onClick={() => setResource(r)}>
              {t(`monitoring.top.${r}`)}
            </button>
          ))}
        </div>
      </div>
      {top.isPending && <Loading />}
      {top.isError && <ErrorState error={top.error} onRetry={() => void top.refetch()} />}
      {top.data && items.length === 0 && <p className="muted empty-line">{t('monitoring.top.empty')}</p>}
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="table table-dense">
            <thead>
              <tr>
                <th scope="col">{what === 'nodes_fullest' ? t('monitoring.col.node') : t('monitoring.col.pod')}</th>
                <th scope="col" className="num">
                  {what === 'nodes_fullest' ? t('monitoring.col.requested') : t('monitoring.col.value')}
                </th>
                <th scope="col" className="num">
                  {what === 'busiest_pods' ? t('monitoring.col.ofRequest') : what === 'nodes_fullest' ? t('monitoring.col.ofAllocatable') : t('monitoring.col.ofLimit')}
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((item, i) => {
                const link = topLink(what, item);
                const label = item.namespace ? `${item.namespace}/${item.name}` : item.name;
                return (
                  <tr key={`${item.cluster_id}-${item.namespace ?? ''}-${item.name}-${i}`} data-testid="top-row" className={item.ratio !== null && item.ratio >= 0.9 ? 'row-warning' : undefined}>
                    <td className="mono small wrap-any">
                      {link ? <Link to={link}>{label}</Link> : label}
                      {(item.cluster ?? item.cluster_name) && !scope.cluster && <div className="muted small">{item.cluster ?? item.cluster_name}</div>}
                    </td>
                    <td className="num small nowrap">{valueText(item, shown)}</td>
                    <td className="num small nowrap">{percentText(item.ratio)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
