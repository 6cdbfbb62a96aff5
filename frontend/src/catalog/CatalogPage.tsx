/**
 * /catalog: package cards from the sources the user may see. Tabs "All", "My catalog" (the
 * packages of my workspaces' sources, `scope=mine`) and "Shared" (`scope=shared`); search `q`.
 * Both live in the URL.
 */
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { DebouncedInput } from '../clusters/tabs/SimpleTabs';
import { PackageIcon } from './common';
import { usePackages } from './queries';
import type { Package } from './types';

const SCOPES = ['all', 'mine', 'shared'] as const;
type Scope = (typeof SCOPES)[number];

function PackageCard({ pkg }: { pkg: Package }) {
  const { t } = useTranslation();
  return (
    <Link className="pkg-card" to={`/catalog/packages/${pkg.id}`} data-testid={`package-card-${pkg.name}`} data-package-id={pkg.id}>
      <div className="pkg-card-head">
        <PackageIcon icon={pkg.icon} name={pkg.name} />
        <div>
          <strong className="mono">{pkg.name}</strong>
          <div className="small muted" data-testid="pkg-latest">
            {pkg.latest_version ? t('catalog.card.latest', { version: pkg.latest_version }) : t('catalog.card.noVersion')}
          </div>
        </div>
      </div>
      <p className="pkg-card-desc">{pkg.description || <span className="muted">{t('catalog.card.noDescription')}</span>}</p>
      <div className="small muted" data-testid="pkg-source">
        {pkg.workspace ? (
          <span className="badge tone-neutral">{t('catalog.card.workspace', { name: pkg.workspace.name })}</span>
        ) : (
          <span className="badge tone-ok">{t('catalog.scope.shared')}</span>
        )}{' '}
        {t('catalog.card.source', { name: pkg.source.name })}
      </div>
    </Link>
  );
}

export function CatalogPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const scope: Scope = SCOPES.find((s) => s === params.get('scope')) ?? 'all';
  const source = Number(params.get('source'));
  const packages = usePackages({ ...(q ? { q } : {}), ...(scope !== 'all' ? { scope } : {}), ...(source > 0 ? { source } : {}) });
  const rows = packages.data?.results ?? [];
  const update = (patch: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(patch)) {
      if (v && !(k === 'scope' && v === 'all')) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };
  return (
    <section className="page page-wide" data-testid="catalog-page">
      <header className="page-header page-header-row">
        <div>
          <h1>{t('catalog.title')}</h1>
          <p className="muted">{t('catalog.intro')}</p>
        </div>
        <div className="header-actions">
          <Link className="btn" to="/releases" data-testid="catalog-releases-link">
            {t('catalog.releases.title')}
          </Link>
          <Link className="btn" to="/catalog/sources" data-testid="catalog-sources-link">
            {t('catalog.sources.title')}
          </Link>
        </div>
      </header>
      <nav className="tabs" aria-label={t('catalog.scope.label')}>
        {SCOPES.map((s) => (
          <button
            key={s}
            type="button"
            className={s === scope ? 'tab active' : 'tab'}
            aria-current={s === scope ? 'page' : undefined}
            data-testid={`scope-${s}`}
            onClick={() => update({ scope: s })}
          >
            {t(`catalog.scope.${s}`)}
          </button>
        ))}
      </nav>
      <div className="filters" data-testid="catalog-filters">
        <DebouncedInput name="q" label={t('catalog.search')} value={q} onCommit={(v) => update({ q: v })} />
      </div>
      {packages.isPending && <Loading />}
      {packages.isError && <ErrorState error={packages.error} onRetry={() => void packages.refetch()} />}
      {packages.data && rows.length === 0 && (
        <p className="muted empty-line" data-testid="catalog-empty">
          {t('catalog.empty')}
        </p>
      )}
      {rows.length > 0 && (
        <div className="catalog-cards" data-testid="catalog-cards">
          {rows.map((p) => (
            <PackageCard key={p.id} pkg={p} />
          ))}
        </div>
      )}
    </section>
  );
}
