/**
 * /registries/:id: one registry's repositories, searched by name; the API lists only those under
 * the caller's prefixes (every repository for admins, operators and auditors). A repository opens
 * its tags at /registries/:id/repositories/<name> (names contain `/`: the route's splat).
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { messageText } from '../lib/messages';
import { RegistryStatusBadge } from './common';
import { useRegistry, useRepositories } from './queries';

export function repositoryPath(id: number, repository: string): string {
  return `/registries/${id}/repositories/${repository}`;
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function RegistryPage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const { registry, ...list } = useRegistry(id);
  const [search, setSearch] = useState('');
  const query = useDebounced(search.trim(), 300);
  const repositories = useRepositories(id, query);
  const rows = repositories.data?.results ?? [];
  return (
    <section className="page page-wide" data-testid="registry-page">
      <p className="muted small breadcrumbs">
        <Link to="/registries">{t('registries.title')}</Link> / {registry?.name ?? id}
      </p>
      {list.isError && <ErrorState error={list.error} onRetry={() => void list.refetch()} />}
      <header className="page-header page-header-row">
        <div>
          <h1 className="mono">{registry?.name ?? ''}</h1>
          {registry && (
            <p className="muted">
              <span className="mono">{registry.host}</span> · <RegistryStatusBadge status={registry.status} />
              {registry.message && <span className={registry.status === 'error' ? ' bad-text' : ''}> {messageText(t, registry)}</span>}
            </p>
          )}
          {registry?.prefixes && registry.prefixes.length > 0 && (
            <p className="small muted" data-testid="my-prefixes">
              {t('registries.yourPrefixes', { prefixes: registry.prefixes.map((p) => (p ? `${p}/…` : t('registries.allRepositories'))).join(', ') })}
            </p>
          )}
        </div>
      </header>
      <section className="card">
        <div className="filters">
          <input
            type="search"
            className="field-grow"
            aria-label={t('registries.repositories.search')}
            placeholder={t('registries.repositories.search')}
            data-testid="repository-search"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </div>
        {repositories.isPending && <Loading />}
        {repositories.isError && <ErrorState error={repositories.error} onRetry={() => void repositories.refetch()} />}
        {repositories.data && rows.length === 0 && (
          <EmptyState title={query ? t('registries.repositories.noMatch') : t('registries.repositories.empty')} testId="repositories-empty">
            {!query && <p className="muted">{t('registries.repositories.emptyHint')}</p>}
          </EmptyState>
        )}
        {rows.length > 0 && (
          <table className="table table-dense" data-testid="repositories-table">
            <thead>
              <tr>
                <th scope="col">{t('registries.repositories.name')}</th>
                <th scope="col">{t('registries.repositories.image')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.name} data-testid={`repository-row-${r.name}`}>
                  <td>
                    <Link className="mono" to={repositoryPath(id, r.name)} data-testid={`open-repository-${r.name}`}>
                      {r.name}
                    </Link>
                  </td>
                  <td className="mono small muted">{registry ? `${registry.host}/${r.name}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {repositories.data?.truncated && (
          <p className="small muted" data-testid="repositories-truncated">
            {t('registries.repositories.truncated')}
          </p>
        )}
      </section>
    </section>
  );
}
