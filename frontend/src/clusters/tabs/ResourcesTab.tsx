/**
 * /clusters/:id/resources — the generic resource browser: every kind the cluster serves
 * (custom resources included) grouped by API group with a search, a namespace filter and a label
 * selector, the server's own columns with paging, and a read-only YAML view of the object a row
 * opens, on the console's DataTable (saved column sets per kind). The selection lives in the URL (?kind=group/version/plural&namespace=&object=&objectNamespace=)
 * so a view can be shared and survives a reload.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { ErrorState } from '../../components/ErrorState';
import { Loading } from '../../components/Loading';
import { DataTable, type ColumnDef } from '../../components/table';
import { relativeTime, useNow } from '../format';
import type { InventoryPage } from '../types';
import { toYaml } from '../yaml';
import { ObjectActions } from '../../objects/ObjectActions';
import { objectPath } from '../../objects/paths';
import { FreshnessLine } from './InventoryTable';
import {
  groupKinds,
  gvrOf,
  useResourceKinds,
  useResourceObject,
  useResourcePage,
  type ApiResource,
  type ResourcePage,
  type TableColumn,
} from '../resources';

const PAGE_SIZE = 50;

function SourceBadge({ source }: { source: string }) {
  const { t } = useTranslation();
  return (
    <span className={`badge ${source === 'live' ? 'badge-live' : 'badge-success'}`} data-testid="resource-source" data-source={source}>
      {source === 'live' ? t('clusters.resources.sourceLive') : t('clusters.resources.sourceReadModel')}
    </span>
  );
}

function KindPicker({
  resources,
  selected,
  onSelect,
}: {
  resources: ApiResource[];
  selected: string | null;
  onSelect: (r: ApiResource) => void;
}) {
  const { t } = useTranslation();
  const [search, setSearch] = useState('');
  const groups = groupKinds(resources, search);
  return (
    <nav className="kind-picker" aria-label={t('clusters.resources.kinds')}>
      <input
        type="search"
        className="field-input"
        placeholder={t('clusters.resources.searchKinds')}
        aria-label={t('clusters.resources.searchKinds')}
        value={search}
        onChange={(e) => setSearch(e.target.value)}
        data-testid="kind-search"
      />
      {groups.length === 0 && <p className="muted small">{t('clusters.resources.noKinds')}</p>}
      {groups.map(([group, kinds]) => (
        <div key={group || 'core'} className="kind-group" data-testid={`kind-group-${group || 'core'}`}>
          <h2 className="kind-group-title small muted">{group || t('clusters.resources.coreGroup')}</h2>
          <ul className="plain-list">
            {kinds.map((r) => {
              const gvr = gvrOf(r);
              return (
                <li key={gvr}>
                  <button
                    type="button"
                    className={`kind-button ${gvr === selected ? 'active' : ''}`}
                    aria-pressed={gvr === selected}
                    onClick={() => onSelect(r)}
                    data-testid={`kind-${gvr}`}
                    title={`${r.plural}.${r.group || 'core'}/${r.version}`}
                  >
                    {r.kind}
                    {!r.namespaced && <span className="muted small"> · {t('clusters.resources.clusterScoped')}</span>}
                  </button>
                </li>
              );
            })}
          </ul>
        </div>
      ))}
    </nav>
  );
}

function Cell({ column, value }: { column: TableColumn; value: unknown }) {
  const { i18n } = useTranslation();
  const now = useNow();
  if (value === null || value === undefined || value === '') return <span className="muted">—</span>;
  if (column.type === 'date' && typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) {
    return <span title={value}>{relativeTime(value, now, i18n.language) ?? value}</span>;
  }
  if (typeof value === 'object') return <span className="mono small">{JSON.stringify(value)}</span>;
  return <>{String(value)}</>;
}

/** `group/version/plural` of the browser's URL as an object reference's parts. */
function refParts(gvr: string): { group: string; version: string; plural: string } {
  const [group = 'core', version = '', plural = ''] = gvr.split('/');
  return { group, version, plural };
}

function ObjectView({
  clusterId,
  gvr,
  namespace,
  name,
  onClose,
}: {
  clusterId: number;
  gvr: string;
  namespace: string;
  name: string;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const [format, setFormat] = useState<'yaml' | 'json'>('yaml');
  const found = useResourceObject(clusterId, gvr, namespace, name);
  return (
    <section className="card resource-object" data-testid="resource-object" aria-label={name}>
      <div className="card-title">
        <h2 className="mono">
          {namespace ? `${namespace}/` : ''}
          {name}
        </h2>
        <div className="segmented" role="group" aria-label={t('clusters.format')}>
          <button type="button" className={format === 'yaml' ? 'active' : ''} aria-pressed={format === 'yaml'} onClick={() => setFormat('yaml')}>
            YAML
          </button>
          <button type="button" className={format === 'json' ? 'active' : ''} aria-pressed={format === 'json'} onClick={() => setFormat('json')}>
            JSON
          </button>
        </div>
        <Link className="btn btn-small" to={objectPath(clusterId, { ...refParts(gvr), namespace, name })} data-testid="resource-object-open">
          {t('objects.open')}
        </Link>
        <button type="button" className="btn btn-small" onClick={onClose} data-testid="resource-object-close">
          {t('common.close')}
        </button>
      </div>
      {found.isPending && <Loading />}
      {found.isError && <ErrorState error={found.error} onRetry={() => void found.refetch()} />}
      {found.data && (
        <>
          {found.data.secret_keys !== null && (
            <div className="alert alert-warning" data-testid="secret-keys">
              <div>
                <strong>{t('clusters.resources.secretKeys', { count: found.data.secret_keys.length })}</strong>
                <ul className="plain-list mono small">
                  {found.data.secret_keys.map((k) => (
                    <li key={k}>{k}</li>
                  ))}
                </ul>
                <p className="small">{t('clusters.resources.secretValuesHidden')}</p>
              </div>
            </div>
          )}
          <pre className="code-block" data-testid="resource-yaml">
            {format === 'yaml' ? toYaml(found.data.object) : JSON.stringify(found.data.object, null, 2)}
          </pre>
        </>
      )}
    </section>
  );
}

type ResourceRow = ResourcePage['rows'][number];

/** A saved-column-set key per kind: the server's columns differ from kind to kind. */
export function resourceTableKey(gvr: string): string {
  return `cluster.resources.${gvr.toLowerCase().replace(/[^a-z0-9._-]+/g, '.')}`.slice(0, 64);
}

const resourceRowTestId = (row: ResourceRow) => `resource-row-${row.namespace ? `${row.namespace}-` : ''}${row.name}`;

function ResourceTable({
  clusterId,
  page,
  onOpen,
  selected,
}: {
  clusterId: number;
  page: ResourcePage;
  onOpen: (namespace: string, name: string) => void;
  selected: string | null;
}) {
  const { t } = useTranslation();
  const gvr = gvrOf(page.resource);
  const columns = useMemo(() => {
    const shown = page.columns.map((c, i) => ({ c, i })).filter(({ c }) => c.priority === 0);
    // the object's name is the column the server formats as "name" (not always the first: events)
    const nameIndex = page.columns.findIndex((c) => c.format === 'name');
    const out: ColumnDef<ResourceRow, unknown>[] = [];
    if (page.resource.namespaced && !page.columns.some((c) => c.name === 'Namespace')) {
      out.push({ id: 'namespace', header: t('clusters.col.namespace'), cell: ({ row }) => row.original.namespace, meta: { label: t('clusters.col.namespace') } });
    }
    for (const { c, i } of shown) {
      out.push({
        id: `c${i}-${c.name}`,
        header: c.name,
        meta: { label: c.name, headerTitle: c.description, priority: i === nameIndex ? 1 : out.length > 4 ? 3 : 1 },
        cell: ({ row }) => {
          const r = row.original;
          if (i !== nameIndex) return <Cell column={c} value={r.cells[i]} />;
          return (
            <span className="resource-name-cell">
              <button type="button" className="link-button" onClick={(e) => (e.stopPropagation(), onOpen(r.namespace, r.name))}>
                {r.cells[i] === undefined ? r.name : String(r.cells[i])}
              </button>
              {/* the row opens the YAML view on click; the menu's clicks stay in the menu */}
              <span onClick={(e) => e.stopPropagation()}>
                <ObjectActions
                  clusterId={clusterId}
                  objectRef={{ ...refParts(gvrOf(page.resource)), kind: page.resource.kind, namespace: r.namespace, name: r.name }}
                  align="left"
                />
              </span>
            </span>
          );
        },
      });
    }
    return out;
  }, [page.columns, page.resource, clusterId, onOpen, t]);
  const byTestId = useMemo(() => new Map(page.rows.map((r) => [resourceRowTestId(r), r])), [page.rows]);
  // A click anywhere on a row opens its YAML, as before (the name button and Enter do too).
  const onClick = (e: React.MouseEvent<HTMLDivElement>) => {
    const tr = e.target instanceof Element ? e.target.closest('tr[data-testid^="resource-row-"]') : null;
    const row = tr ? byTestId.get(tr.getAttribute('data-testid') ?? '') : undefined;
    if (row) onOpen(row.namespace, row.name);
  };
  return (
    <div onClick={onClick}>
      <DataTable<ResourceRow>
        tableKey={resourceTableKey(gvr)}
        label={t('inventory.table.resources')}
        columns={columns}
        rows={page.rows}
        getRowId={(r) => `${r.namespace}/${r.name}`}
        onRowActivate={(r) => onOpen(r.namespace, r.name)}
        rowClassName={(r) => (`${r.namespace}/${r.name}` === selected ? 'clickable row-selected' : 'clickable')}
        rowTestId={resourceRowTestId}
        testId="resources-table"
        empty={
          <span className="muted" data-testid="resources-empty">
            {t('clusters.noObjects')}
          </span>
        }
      />
    </div>
  );
}

export function ResourcesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const gvr = params.get('kind');
  const namespace = params.get('namespace') ?? '';
  const labelSelector = params.get('labelSelector') ?? '';
  const objectName = params.get('object');
  const objectNamespace = params.get('objectNamespace') ?? '';
  const [selectorText, setSelectorText] = useState(labelSelector);
  // continue tokens of the pages before the current one (the first page has none)
  const [tokens, setTokens] = useState<string[]>([]);
  const token = tokens.at(-1) ?? '';
  useEffect(() => setTokens([]), [gvr, namespace, labelSelector]);

  const kinds = useResourceKinds(clusterId);
  const namespaces = useResourcePage(clusterId, 'core/v1/namespaces', { limit: 500 });
  const page = useResourcePage(clusterId, gvr, {
    namespace: namespace || undefined,
    labelSelector: labelSelector || undefined,
    limit: PAGE_SIZE,
    continue: token || undefined,
  });
  const resource = kinds.data?.resources.find((r) => gvrOf(r) === gvr) ?? page.data?.resource;

  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '') next.delete(k);
      else next.set(k, v);
    }
    setParams(next, { replace: false });
  };

  const open = useCallback(
    (ns: string, name: string) =>
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          next.set('object', name);
          if (ns) next.set('objectNamespace', ns);
          else next.delete('objectNamespace');
          return next;
        },
        { replace: false },
      ),
    [setParams],
  );

  if (kinds.isPending) return <Loading />;
  if (kinds.isError) return <ErrorState error={kinds.error} onRetry={() => void kinds.refetch()} />;
  return (
    <div className="resource-browser" data-testid="resource-browser">
      <KindPicker
        resources={kinds.data.resources}
        selected={gvr}
        onSelect={(r) => update({ kind: gvrOf(r), object: null, objectNamespace: null })}
      />
      <div className="resource-main">
        {kinds.data.discovery_error && (
          <p className="alert alert-warning" data-testid="discovery-error">
            {t('clusters.resources.discoveryFailed', { detail: kinds.data.discovery_error.detail })}
          </p>
        )}
        <div className="filters">
          <label className="field">
            <span>{t('clusters.col.namespace')}</span>
            <select
              value={namespace}
              onChange={(e) => update({ namespace: e.target.value })}
              data-testid="resource-namespace"
              disabled={resource !== undefined && !resource.namespaced}
            >
              <option value="">{t('clusters.resources.allNamespaces')}</option>
              {(namespaces.data?.rows ?? []).map((n) => (
                <option key={n.name} value={n.name}>
                  {n.name}
                </option>
              ))}
            </select>
          </label>
          <form
            className="field-grow"
            onSubmit={(e) => {
              e.preventDefault();
              update({ labelSelector: selectorText.trim() });
            }}
          >
            <label className="field">
              <span>{t('clusters.resources.labelSelector')}</span>
              <input
                className="mono"
                value={selectorText}
                placeholder="app=web,tier!=db"
                onChange={(e) => setSelectorText(e.target.value)}
                data-testid="resource-label-selector"
              />
            </label>
          </form>
        </div>
        {gvr === null ? (
          <p className="muted empty-line" data-testid="resources-pick">
            {t('clusters.resources.pickKind')}
          </p>
        ) : (
          <>
            <div className="resource-heading">
              <h2>
                {resource?.kind ?? gvr} <span className="muted small mono">{gvr}</span>
              </h2>
              {page.data && <SourceBadge source={page.data.source} />}
            </div>
            {page.isPending && <Loading />}
            {page.isError && <ErrorState error={page.error} onRetry={() => void page.refetch()} />}
            {page.data && (
              <>
                {page.data.freshness && <FreshnessLine page={{ freshness: page.data.freshness } as InventoryPage} />}
                <ResourceTable
                  clusterId={clusterId}
                  page={page.data}
                  selected={objectName ? `${objectNamespace}/${objectName}` : null}
                  onOpen={open}
                />
                {(tokens.length > 0 || page.data.continue) && (
                  <nav className="pager" aria-label="pagination">
                    <button
                      type="button"
                      className="btn"
                      disabled={tokens.length === 0}
                      onClick={() => setTokens(tokens.slice(0, -1))}
                      data-testid="page-previous"
                    >
                      ← {t('common.previous')}
                    </button>
                    <button
                      type="button"
                      className="btn"
                      disabled={!page.data.continue}
                      onClick={() => setTokens([...tokens, page.data.continue])}
                      data-testid="page-next"
                    >
                      {t('common.next')} →
                    </button>
                    {page.data.remaining !== null && (
                      <span className="muted small">{t('clusters.resources.remaining', { count: page.data.remaining })}</span>
                    )}
                  </nav>
                )}
              </>
            )}
            {objectName && (
              <ObjectView
                key={`${gvr}/${objectNamespace}/${objectName}`}
                clusterId={clusterId}
                gvr={gvr}
                namespace={objectNamespace}
                name={objectName}
                onClose={() => update({ object: null, objectNamespace: null })}
              />
            )}
          </>
        )}
      </div>
    </div>
  );
}
