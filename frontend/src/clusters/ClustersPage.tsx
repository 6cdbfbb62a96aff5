/**
 * /clusters: the fleet status table. Filters, sort and cursor live in the URL; the server
 * sorts and filters. Rows are patched live from the `fleet` group; a seq gap refetches.
 */
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { useMe } from '../auth/queries';
import { Pager } from '../components/Pager';
import { useSocketState } from '../lib/socket';
import { ClustersTable } from './ClustersTable';
import { useNow } from './format';
import { useFleetLive } from './live';
import { clusterListQuery, useClusters, type ClusterFilters, type ClusterSort } from './queries';
import { CLUSTER_ORDERINGS, CLUSTER_STATUSES, PROVIDERS, STAGES } from './types';

export function filtersFromParams(params: URLSearchParams): ClusterFilters {
  return {
    q: params.get('q') ?? '',
    status: CLUSTER_STATUSES.find((s) => s === params.get('status')) ?? '',
    provider: PROVIDERS.find((s) => s === params.get('provider')) ?? '',
    stage: STAGES.find((s) => s === params.get('stage')) ?? '',
  };
}

export function sortFromParams(params: URLSearchParams): ClusterSort | null {
  const raw = params.get('ordering') ?? '';
  const field = CLUSTER_ORDERINGS.find((f) => f === raw.replace(/^-/, ''));
  return field ? { field, desc: raw.startsWith('-') } : null;
}

export function ClustersPage() {
  const { t } = useTranslation();
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const paramsKey = params.toString();
  const filters = useMemo(() => filtersFromParams(new URLSearchParams(paramsKey)), [paramsKey]);
  const sort = useMemo(() => sortFromParams(new URLSearchParams(paramsKey)), [paramsKey]);
  const cursor = params.get('cursor');
  const query = useMemo(() => clusterListQuery(filters, sort, cursor), [filters, sort, cursor]);
  const clusters = useClusters(query);
  const now = useNow();
  const socket = useSocketState();
  // `fleet` is for operators and admins (docs/clusters-api.md); others would get an error.
  useFleetLive(me.data?.role === 'admin' || me.data?.role === 'operator' || me.data?.role === 'auditor');

  // The search box applies as the user types (debounced), the selects at once.
  const [q, setQ] = useState(filters.q);
  useEffect(() => setQ(filters.q), [filters.q]);
  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(paramsKey);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    if (!('cursor' in changes)) next.delete('cursor');
    setParams(next, { replace: true });
  };
  useEffect(() => {
    if (q === filters.q) return undefined;
    const timer = setTimeout(() => update({ q: q.trim() }), 300);
    return () => clearTimeout(timer);
  }, [q]);

  const rows = clusters.data?.results ?? [];
  const ordering = sort ? `${sort.desc ? '-' : ''}${sort.field}` : null;
  const filterForm = (
    <form className="filters" data-testid="clusters-filters" onSubmit={(e) => e.preventDefault()} role="search">
      <label className="field field-grow">
        <span>{t('clusters.filter.search')}</span>
        <input
          type="search"
          name="q"
          value={q}
          placeholder={t('clusters.filter.searchPlaceholder')}
          onChange={(e) => setQ(e.target.value)}
        />
      </label>
      <label className="field">
        <span>{t('clusters.col.status')}</span>
        <select name="status" value={filters.status} onChange={(e) => update({ status: e.target.value })}>
          <option value="">{t('clusters.filter.any')}</option>
          {CLUSTER_STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`clusters.status.${s}`)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t('clusters.field.provider')}</span>
        <select name="provider" value={filters.provider} onChange={(e) => update({ provider: e.target.value })}>
          <option value="">{t('clusters.filter.any')}</option>
          {PROVIDERS.map((p) => (
            <option key={p} value={p}>
              {t(`clusters.provider.${p}`)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t('clusters.col.stage')}</span>
        <select name="stage" value={filters.stage} onChange={(e) => update({ stage: e.target.value })}>
          <option value="">{t('clusters.filter.any')}</option>
          {STAGES.map((s) => (
            <option key={s} value={s}>
              {t(`clusters.stage.${s}`)}
            </option>
          ))}
        </select>
      </label>
      <span className="muted small live-note" data-testid="clusters-live" data-live={socket === 'open'}>
        {socket === 'open' ? t('clusters.liveOn') : t('clusters.liveOff')}
      </span>
    </form>
  );
  return (
    <section className="page page-wide" data-testid="clusters-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('clusters.title')}</h1>
          <p className="muted">{t('clusters.intro')}</p>
        </div>
        {me.data?.is_admin && (
          <Link to="/clusters/new" className="btn btn-primary" data-testid="register-cluster">
            + {t('clusters.register')}
          </Link>
        )}
      </header>
      <section className="card card-flush">
        <ClustersTable
          clusters={rows}
          ordering={ordering}
          now={now}
          onOrderingChange={(o) => update({ ordering: o ?? '' })}
          loading={clusters.isPending}
          error={clusters.isError ? clusters.error : undefined}
          onRetry={() => void clusters.refetch()}
          empty={
            clusters.data ? (
              <p className="muted empty-line" data-testid="clusters-empty">
                {filters.q || filters.status || filters.provider || filters.stage ? t('clusters.emptyFiltered') : t('clusters.empty')}
              </p>
            ) : undefined
          }
          toolbar={filterForm}
        />
        {clusters.data && (
          <Pager next={clusters.data.next} previous={clusters.data.previous} onPage={(c) => update({ cursor: c ?? '' })} />
        )}
      </section>
    </section>
  );
}
