/**
 * The top bar's search across clusters (GET /api/clusters/search/?q=): pods, workloads and
 * services by name prefix or label selector, grouped by cluster and kind, linking to the pages.
 */
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router-dom';
import { clustersApi } from './api';
import { clustersKey } from './queries';
import { podPath } from './tabs/podLinks';
import type { Cluster, Page, SearchHit } from './types';
import { apiErrorText } from '../lib/messages';

export function hitPath(hit: Pick<SearchHit, 'cluster' | 'kind' | 'namespace' | 'name'>): string {
  if (hit.kind === 'Pod') return podPath(hit.cluster, hit);
  if (hit.kind === 'Service') return `/clusters/${hit.cluster}/services?namespace=${encodeURIComponent(hit.namespace)}&q=${encodeURIComponent(hit.name)}`;
  return `/clusters/${hit.cluster}/workloads?kind=${hit.kind}&namespace=${encodeURIComponent(hit.namespace)}&q=${encodeURIComponent(hit.name)}`;
}

/** Hits grouped by cluster, then kind, in the order the server sent them. */
export function groupHits(hits: SearchHit[]): { cluster: number; clusterName: string | null; kinds: { kind: string; hits: SearchHit[] }[] }[] {
  const groups = new Map<number, { clusterName: string | null; kinds: Map<string, SearchHit[]> }>();
  for (const hit of hits) {
    let g = groups.get(hit.cluster);
    if (!g) {
      g = { clusterName: hit.cluster_name ?? null, kinds: new Map() };
      groups.set(hit.cluster, g);
    }
    const list = g.kinds.get(hit.kind) ?? [];
    list.push(hit);
    g.kinds.set(hit.kind, list);
  }
  return [...groups].map(([cluster, g]) => ({
    cluster,
    clusterName: g.clusterName,
    kinds: [...g.kinds].map(([kind, list]) => ({ kind, hits: list })),
  }));
}

export function GlobalSearch() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const timer = setTimeout(() => setQ(text.trim()), 250);
    return () => clearTimeout(timer);
  }, [text]);
  useEffect(() => {
    if (!open) return undefined;
    const onDoc = (e: MouseEvent) => {
      if (ref.current && e.target instanceof Node && !ref.current.contains(e.target)) setOpen(false);
    };
    document.addEventListener('mousedown', onDoc);
    return () => document.removeEventListener('mousedown', onDoc);
  }, [open]);

  const isSelector = /[=!]/.test(q);
  const search = useQuery({
    queryKey: [...clustersKey, 'search', q],
    queryFn: ({ signal }) => clustersApi.search(isSelector ? { label_selector: q } : { q }, signal),
    enabled: q.length >= 2,
    placeholderData: keepPreviousData,
    staleTime: 5_000,
  });
  const hits: SearchHit[] = Array.isArray(search.data) ? search.data : (search.data?.results ?? []);
  // Cluster names from any cached cluster list, for servers that send only the id.
  const names = new Map<number, string>();
  for (const [, page] of queryClient.getQueriesData<Page<Cluster>>({ queryKey: [...clustersKey, 'list'] })) {
    for (const c of page?.results ?? []) names.set(c.id, c.display_name || c.name);
  }
  const groups = groupHits(hits);

  return (
    <div className="global-search" ref={ref} role="search" aria-label={t('search.label')}>
      <input
        type="search"
        data-testid="global-search"
        aria-label={t('search.label')}
        placeholder={t('search.placeholder')}
        value={text}
        onFocus={() => setOpen(true)}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setOpen(false);
          if (e.key === 'Enter' && hits[0]) {
            setOpen(false);
            void navigate(hitPath(hits[0]));
          }
        }}
      />
      {open && q.length >= 2 && (
        <div className="search-popup" data-testid="search-results">
          {search.isPending && <p className="muted small">{t('app.loading')}</p>}
          {search.isError && <p className="bad-text small">{apiErrorText(t, search.error)}</p>}
          {search.data && hits.length === 0 && <p className="muted small">{t('search.none')}</p>}
          {groups.map((g) => (
            <section key={g.cluster} className="search-group" data-testid={`search-cluster-${g.cluster}`}>
              <h3>
                <Link to={`/clusters/${g.cluster}`} onClick={() => setOpen(false)}>
                  {g.clusterName ?? names.get(g.cluster) ?? `#${g.cluster}`}
                </Link>
              </h3>
              {g.kinds.map((k) => (
                <div key={k.kind}>
                  <div className="search-kind">{k.kind}</div>
                  <ul className="plain-list">
                    {k.hits.map((h) => (
                      <li key={`${h.namespace}/${h.name}`}>
                        <Link to={hitPath(h)} onClick={() => setOpen(false)} data-testid="search-hit">
                          <span className="muted mono small">{h.namespace}/</span>
                          <span className="mono">{h.name}</span>
                        </Link>
                      </li>
                    ))}
                  </ul>
                </div>
              ))}
            </section>
          ))}
        </div>
      )}
    </div>
  );
}
