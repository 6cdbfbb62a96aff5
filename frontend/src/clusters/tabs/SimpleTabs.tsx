/**
 * The inventory tabs that are plain lists: namespaces, workloads, services, ingresses, volumes
 * (PVs), claims (PVCs), storage classes and events, each on the console's table (sorted by the
 * server through the list's `ordering`, keyset-paged as the user scrolls, live from
 * `cluster.<id>`). Filters and the sort are kept in the URL.
 */
import { useMemo, type ComponentProps } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import type { ColumnDef } from '../../components/table';
import { PhaseBadge } from '../badges';
import { bytesHuman, relativeTime, useNow } from '../format';
import type { InventoryParams } from '../queries';
import {
  WORKLOAD_KINDS,
  type EventData,
  type InventoryRow,
  type Kind,
  type KindData,
  type ServiceData,
  type WorkloadData,
} from '../types';
import { InventoryList, type Column } from './InventoryTable';
import { ObjectActions } from '../../objects/ObjectActions';
import { refOfRow } from '../../objects/paths';
import { useUrlFilters as useSearchFilters } from '../../lists/keyset';
import { SearchInput } from '../../lists/SearchInput';
import './inventory.css';

/** Reads/writes some filters in the URL query; text inputs apply after a short pause. */
export function useUrlFilters<K extends string>(keys: readonly K[]): [Record<K, string>, (key: K, value: string) => void] {
  const { params, set } = useSearchFilters();
  const values = Object.fromEntries(keys.map((k) => [k, params.get(k) ?? ''])) as Record<K, string>;
  return [values, set];
}

/** A text filter that reports its value after the user pauses typing; by default as long as a Kubernetes name (253). */
export function DebouncedInput(props: Omit<ComponentProps<typeof SearchInput>, 'type'>) {
  return <SearchInput maxLength={253} type="text" {...props} />;
}


function NsAndSearch({ filters, set }: { filters: { namespace: string; q: string }; set: (k: 'namespace' | 'q', v: string) => void }) {
  const { t } = useTranslation();
  return (
    <>
      <DebouncedInput name="namespace" label={t('clusters.col.namespace')} value={filters.namespace} onCommit={(v) => set('namespace', v)} />
      <DebouncedInput name="q" label={t('clusters.filter.search')} value={filters.q} onCommit={(v) => set('q', v)} />
    </>
  );
}

const FILTER_NS_Q = ['namespace', 'q', 'ordering'] as const;

function Age({ iso }: { iso: string | null }) {
  const { i18n } = useTranslation();
  const now = useNow(30_000);
  return <span title={iso ?? undefined}>{relativeTime(iso, now, i18n.language) ?? '—'}</span>;
}

type Def<K extends Kind> = ColumnDef<InventoryRow<KindData[K]>, unknown>;

/** A column of the inventory table; `sortKey` names the API ordering that sorts by it. */
export function col<K extends Kind>(
  id: string,
  label: string,
  cell: (row: InventoryRow<KindData[K]>) => React.ReactNode,
  meta: { sortKey?: string; priority?: 1 | 2 | 3; align?: 'start' | 'end'; className?: string; defaultHidden?: boolean; headerTitle?: string } = {},
): Def<K> {
  return { id, header: label, cell: ({ row }) => cell(row.original), meta: { label, ...meta } };
}

function nameCol<K extends Kind>(label: string, sortable = true): Def<K> {
  return col<K>('name', label, (r) => <span className="mono">{r.name}</span>, { sortKey: sortable ? 'name' : undefined });
}
function nsCol<K extends Kind>(label: string): Def<K> {
  return col<K>('namespace', label, (r) => <span className="mono">{r.namespace}</span>, { sortKey: 'namespace', priority: 2 });
}
function ageCol<K extends Kind>(label: string): Def<K> {
  return col<K>('age', label, (r) => <Age iso={r.created} />, { className: 'nowrap', priority: 3 });
}

/** The `ordering` URL filter as the table's sort handler. */
function orderingHandler(set: (key: 'ordering', value: string) => void) {
  return (ordering: string | null) => set('ordering', ordering ?? '');
}

export function NamespacesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['q', 'ordering'] as const);
  const columns = useMemo(
    () => [
      nameCol<'Namespace'>(t('clusters.col.name')),
      col<'Namespace'>('phase', t('clusters.col.status'), (r) => <PhaseBadge text={r.phase} />),
      col<'Namespace'>('labels', t('clusters.field.labels'), (r) => <Labels labels={r.labels} />, { priority: 3 }),
      ageCol<'Namespace'>(t('clusters.col.age')),
    ],
    [t],
  );
  return (
    <InventoryList<'Namespace'>
      clusterId={clusterId}
      resource="namespaces"
      params={filters}
      onOrderingChange={orderingHandler(set)}
      tableKey="cluster.namespaces"
      label={t('inventory.table.namespaces')}
      toolbar={<DebouncedInput name="q" label={t('clusters.filter.search')} value={filters.q} onCommit={(v) => set('q', v)} />}
      testId="namespaces-table"
      rowTestId={(r) => `namespace-row-${r.name}`}
      columns={columns}
    />
  );
}

export function Labels({ labels }: { labels: Record<string, string> | undefined }) {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <span className="chips">
      {entries.slice(0, 6).map(([k, v]) => (
        <span key={k} className="chip small">
          {k}={v}
        </span>
      ))}
      {entries.length > 6 && <span className="muted small">+{entries.length - 6}</span>}
    </span>
  );
}

/** Pods of a workload or service: the pods tab filtered by its namespace and selector. */
export function podsOf(clusterId: number, namespace: string, selector: Record<string, string> | null | undefined): string | null {
  const entries = Object.entries(selector ?? {});
  if (entries.length === 0) return null;
  const params = new URLSearchParams({ namespace, label_selector: entries.map(([k, v]) => `${k}=${v}`).join(',') });
  return `/clusters/${clusterId}/pods?${params.toString()}`;
}

function NameToPods({ clusterId, row, selector }: { clusterId: number; row: { namespace: string; name: string }; selector: Record<string, string> | null | undefined }) {
  const { t } = useTranslation();
  const to = podsOf(clusterId, row.namespace, selector);
  if (!to) return <span className="mono">{row.name}</span>;
  return (
    <Link className="mono" to={to} title={t('clusters.showPods')}>
      {row.name}
    </Link>
  );
}

function replicas(d: WorkloadData, kind: string): string {
  if (kind === 'Job') return `${d.succeeded ?? 0}/${d.completions ?? 1}`;
  if (kind === 'CronJob') return d.schedule ?? '';
  return `${d.ready_replicas ?? 0}/${d.replicas ?? 0}`;
}

/** A workload's status: the read model's phase; a Deployment's scaled-down ReplicaSet reads "Old revision". */
export function WorkloadStatus({ phase }: { phase: string }) {
  const { t } = useTranslation();
  if (phase === 'Superseded') {
    return (
      <span className="badge tone-neutral" title={t('inventory.supersededHint')} data-phase={phase}>
        {t('inventory.superseded')}
      </span>
    );
  }
  return <PhaseBadge text={phase} />;
}

/** Kinds whose list shows the ones a Deployment or CronJob controls whatever the toggle says. */
const CONTROLLED_KINDS = new Set(['ReplicaSet', 'Job']);

/**
 * The API filters of the workloads list: a Deployment's ReplicaSets and a CronJob's Jobs are left
 * out (`top_level=true`) unless "Show ReplicaSets" is on or the user asked for one of those kinds.
 */
export function workloadParams(filters: { namespace: string; q: string; kind: string; ordering: string; controlled: string }): InventoryParams {
  const { controlled, ...rest } = filters;
  const hide = controlled !== '1' && !CONTROLLED_KINDS.has(filters.kind);
  return hide ? { ...rest, top_level: 'true' } : rest;
}

export function WorkloadsTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['namespace', 'q', 'kind', 'ordering', 'controlled'] as const);
  const columns = useMemo(
    () => [
      col<'Deployment'>('kind', t('clusters.col.kind'), (r) => r.kind, { sortKey: 'kind' }),
      nsCol<'Deployment'>(t('clusters.col.namespace')),
      col<'Deployment'>('name', t('clusters.col.name'), (r) => <NameToPods clusterId={clusterId} row={r} selector={r.data.selector} />, {
        sortKey: 'name',
      }),
      col<'Deployment'>('status', t('clusters.col.status'), (r) => <WorkloadStatus phase={r.phase} />),
      col<'Deployment'>('replicas', t('clusters.col.replicas'), (r) => replicas(r.data, r.kind), { align: 'end' }),
      col<'Deployment'>('owner', t('inventory.owner'), (r) => (r.data.owner ? `${r.data.owner.kind}/${r.data.owner.name}` : '—'), {
        priority: 3,
        defaultHidden: true,
        className: 'mono small',
      }),
      col<'Deployment'>('images', t('clusters.col.images'), (r) => <span className="mono small wrap-any">{(r.data.images ?? []).join(', ')}</span>, {
        priority: 3,
      }),
      ageCol<'Deployment'>(t('clusters.col.age')),
      col<'Deployment'>('actions', t('objects.actions'), (r) => {
        const ref = refOfRow(r);
        return ref ? <ObjectActions clusterId={clusterId} objectRef={{ ...ref, kind: r.kind }} replicas={r.data.replicas ?? null} /> : null;
      }),
    ],
    [t, clusterId],
  );
  const toolbar = (
    <div className="inv-filters">
      <label className="field">
        <span>{t('clusters.col.kind')}</span>
        <select name="kind" value={filters.kind} onChange={(e) => set('kind', e.target.value)} data-testid="workload-kind">
          <option value="">{t('clusters.filter.any')}</option>
          {WORKLOAD_KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <NsAndSearch filters={filters} set={set} />
      <label className="checkbox inv-check" title={t('inventory.showReplicaSetsHint')}>
        <input
          type="checkbox"
          name="controlled"
          checked={filters.controlled === '1'}
          onChange={(e) => set('controlled', e.target.checked ? '1' : '')}
          data-testid="show-replicasets"
        />
        <span>{t('inventory.showReplicaSets')}</span>
      </label>
    </div>
  );
  return (
    <InventoryList<'Deployment'>
      clusterId={clusterId}
      resource="workloads"
      params={workloadParams(filters)}
      onOrderingChange={orderingHandler(set)}
      tableKey="cluster.workloads"
      label={t('inventory.table.workloads')}
      toolbar={toolbar}
      testId="workloads-table"
      rowTestId={(r) => `workload-row-${r.kind}-${r.namespace}-${r.name}`}
      columns={columns}
    />
  );
}

function ports(d: ServiceData): string {
  return (d.ports ?? [])
    .map((p) => `${p.port}${p.node_port ? `:${p.node_port}` : ''}${p.target_port ? `→${p.target_port}` : ''}/${p.protocol}`)
    .join(', ');
}

function nsAndSearchBar(filters: { namespace: string; q: string }, set: (k: 'namespace' | 'q', v: string) => void) {
  return (
    <div className="inv-filters">
      <NsAndSearch filters={filters} set={set} />
    </div>
  );
}

export function ServicesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(FILTER_NS_Q);
  const columns = useMemo(
    () => [
      nsCol<'Service'>(t('clusters.col.namespace')),
      col<'Service'>('name', t('clusters.col.name'), (r) => <NameToPods clusterId={clusterId} row={r} selector={r.data.selector} />, { sortKey: 'name' }),
      col<'Service'>('type', t('clusters.col.type'), (r) => r.data.type),
      col<'Service'>('ip', t('clusters.col.clusterIp'), (r) => <span className="mono">{r.data.cluster_ip}</span>, { priority: 2 }),
      col<'Service'>('ext', t('clusters.col.externalIp'), (r) => <span className="mono">{(r.data.external_ips ?? []).join(', ') || '—'}</span>, {
        priority: 3,
      }),
      col<'Service'>('ports', t('clusters.col.ports'), (r) => <span className="mono small">{ports(r.data)}</span>),
      ageCol<'Service'>(t('clusters.col.age')),
    ],
    [t, clusterId],
  );
  return (
    <InventoryList<'Service'>
      clusterId={clusterId}
      resource="services"
      params={filters}
      onOrderingChange={orderingHandler(set)}
      tableKey="cluster.services"
      label={t('inventory.table.services')}
      toolbar={nsAndSearchBar(filters, set)}
      testId="services-table"
      rowTestId={(r) => `service-row-${r.namespace}-${r.name}`}
      columns={columns}
    />
  );
}

export function IngressesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(FILTER_NS_Q);
  const columns = useMemo(
    () => [
      nsCol<'Ingress'>(t('clusters.col.namespace')),
      nameCol<'Ingress'>(t('clusters.col.name')),
      col<'Ingress'>('class', t('clusters.col.class'), (r) => r.data.class_name || '—', { priority: 3 }),
      col<'Ingress'>('rules', t('clusters.col.rules'), (r) => (
        <ul className="plain-list small mono">
          {(r.data.rules ?? []).flatMap((rule, i) =>
            (rule.paths ?? []).map((p, j) => (
              <li key={`${i}-${j}`}>
                {rule.host ?? '*'}
                {p.path} → {p.service}:{p.port ?? ''}
              </li>
            )),
          )}
        </ul>
      )),
      col<'Ingress'>('addr', t('clusters.col.addresses'), (r) => <span className="mono">{(r.data.addresses ?? []).join(', ') || '—'}</span>, {
        priority: 2,
      }),
      col<'Ingress'>('tls', 'TLS', (r) => (r.data.tls_hosts ?? []).join(', ') || '—', { priority: 3 }),
    ],
    [t],
  );
  return (
    <InventoryList<'Ingress'>
      clusterId={clusterId}
      resource="ingresses"
      params={filters}
      onOrderingChange={orderingHandler(set)}
      tableKey="cluster.ingresses"
      label={t('inventory.table.ingresses')}
      toolbar={nsAndSearchBar(filters, set)}
      testId="ingresses-table"
      rowTestId={(r) => `ingress-row-${r.namespace}-${r.name}`}
      columns={columns}
    />
  );
}

export function VolumesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['q', 'ordering'] as const);
  const columns = useMemo(
    () => [
      nameCol<'PersistentVolume'>(t('clusters.col.name')),
      col<'PersistentVolume'>('status', t('clusters.col.status'), (r) => <PhaseBadge text={r.phase} />),
      col<'PersistentVolume'>('cap', t('clusters.col.capacity'), (r) => bytesHuman(r.data.capacity), { align: 'end' }),
      col<'PersistentVolume'>('modes', t('clusters.col.accessModes'), (r) => (r.data.access_modes ?? []).join(', '), { priority: 3 }),
      col<'PersistentVolume'>('reclaim', t('clusters.col.reclaim'), (r) => r.data.reclaim_policy, { priority: 3 }),
      col<'PersistentVolume'>('sc', t('clusters.col.storageClass'), (r) => r.data.storage_class || '—', { priority: 2 }),
      col<'PersistentVolume'>('claim', t('clusters.col.claim'), (r) => <span className="mono">{r.data.claim ?? '—'}</span>),
    ],
    [t],
  );
  return (
    <InventoryList<'PersistentVolume'>
      clusterId={clusterId}
      resource="volumes"
      params={filters}
      onOrderingChange={orderingHandler(set)}
      tableKey="cluster.volumes"
      label={t('inventory.table.volumes')}
      toolbar={<DebouncedInput name="q" label={t('clusters.filter.search')} value={filters.q} onCommit={(v) => set('q', v)} />}
      testId="volumes-table"
      rowTestId={(r) => `volume-row-${r.name}`}
      columns={columns}
    />
  );
}

export function ClaimsTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(FILTER_NS_Q);
  const columns = useMemo(
    () => [
      nsCol<'PersistentVolumeClaim'>(t('clusters.col.namespace')),
      nameCol<'PersistentVolumeClaim'>(t('clusters.col.name')),
      col<'PersistentVolumeClaim'>('status', t('clusters.col.status'), (r) => <PhaseBadge text={r.phase} />),
      col<'PersistentVolumeClaim'>('req', t('clusters.col.requested'), (r) => bytesHuman(r.data.requested), { align: 'end', priority: 2 }),
      col<'PersistentVolumeClaim'>('cap', t('clusters.col.capacity'), (r) => bytesHuman(r.data.capacity), { align: 'end' }),
      col<'PersistentVolumeClaim'>('modes', t('clusters.col.accessModes'), (r) => (r.data.access_modes ?? []).join(', '), { priority: 3 }),
      col<'PersistentVolumeClaim'>('sc', t('clusters.col.storageClass'), (r) => r.data.storage_class || '—', { priority: 3 }),
      col<'PersistentVolumeClaim'>('vol', t('clusters.col.volume'), (r) => <span className="mono">{r.data.volume_name || '—'}</span>, { priority: 2 }),
    ],
    [t],
  );
  return (
    <InventoryList<'PersistentVolumeClaim'>
      clusterId={clusterId}
      resource="claims"
      params={filters}
      onOrderingChange={orderingHandler(set)}
      tableKey="cluster.claims"
      label={t('inventory.table.claims')}
      toolbar={nsAndSearchBar(filters, set)}
      testId="claims-table"
      rowTestId={(r) => `claim-row-${r.namespace}-${r.name}`}
      columns={columns}
    />
  );
}

export function StorageClassesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['ordering'] as const);
  const columns = useMemo(
    () => [
      col<'StorageClass'>(
        'name',
        t('clusters.col.name'),
        (r) => (
          <>
            <span className="mono">{r.name}</span> {r.data.is_default && <span className="badge tone-ok">{t('clusters.default')}</span>}
          </>
        ),
        { sortKey: 'name' },
      ),
      col<'StorageClass'>('prov', t('clusters.col.provisioner'), (r) => <span className="mono">{r.data.provisioner}</span>),
      col<'StorageClass'>('reclaim', t('clusters.col.reclaim'), (r) => r.data.reclaim_policy, { priority: 2 }),
      col<'StorageClass'>('binding', t('clusters.col.bindingMode'), (r) => r.data.volume_binding_mode, { priority: 3 }),
      ageCol<'StorageClass'>(t('clusters.col.age')),
    ],
    [t],
  );
  return (
    <InventoryList<'StorageClass'>
      clusterId={clusterId}
      resource="storageclasses"
      params={filters}
      onOrderingChange={orderingHandler(set)}
      tableKey="cluster.storageclasses"
      label={t('inventory.table.storageclasses')}
      testId="storageclasses-table"
      rowTestId={(r) => `storageclass-row-${r.name}`}
      columns={columns}
    />
  );
}

/** The events columns as `{key, header, render}` (pages outside the cluster page reuse them). */
export function eventColumns(t: TFunction): Column<EventData>[] {
  return [
    {
      key: 'type',
      header: t('clusters.col.type'),
      render: (r) => <span className={`badge event-${(r.data.type || r.phase).toLowerCase()}`}>{r.data.type || r.phase}</span>,
    },
    { key: 'reason', header: t('clusters.col.reason'), render: (r) => <strong>{r.data.reason}</strong> },
    {
      key: 'object',
      header: t('clusters.col.object'),
      render: (r) => (
        <span className="mono small">
          {r.data.involved?.kind}/{r.data.involved?.namespace ? `${r.data.involved.namespace}/` : ''}
          {r.data.involved?.name}
        </span>
      ),
    },
    { key: 'message', header: t('clusters.col.message'), render: (r) => <span className="wrap-any">{r.data.message}</span> },
    { key: 'count', header: t('clusters.col.count'), render: (r) => r.data.count, className: 'num' },
    { key: 'last', header: t('clusters.col.lastSeen'), render: (r) => <Age iso={r.data.last_seen ?? r.created} />, className: 'nowrap' },
  ];
}

function eventDefs(t: TFunction): Def<'Event'>[] {
  const priorities: Record<string, 1 | 2 | 3> = { object: 2, count: 3 };
  return eventColumns(t).map((c) =>
    col<'Event'>(c.key, c.header, c.render, {
      sortKey: c.key === 'type' ? 'importance' : undefined,
      priority: priorities[c.key] ?? 1,
      align: c.className === 'num' ? 'end' : undefined,
      className: c.className === 'num' ? undefined : c.className,
    }),
  );
}

export function EventsTab({ clusterId, fixed }: { clusterId: number; fixed?: InventoryParams }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['namespace', 'type', 'ordering'] as const);
  const params = fixed ?? filters;
  const columns = useMemo(() => eventDefs(t), [t]);
  const toolbar = fixed ? undefined : (
    <div className="inv-filters">
      <label className="field">
        <span>{t('clusters.col.type')}</span>
        <select name="type" value={filters.type} onChange={(e) => set('type', e.target.value)} data-testid="event-type">
          <option value="">{t('clusters.filter.any')}</option>
          <option value="Warning">Warning</option>
          <option value="Normal">Normal</option>
        </select>
      </label>
      <DebouncedInput name="namespace" label={t('clusters.col.namespace')} value={filters.namespace} onCommit={(v) => set('namespace', v)} />
    </div>
  );
  return (
    <InventoryList<'Event'>
      clusterId={clusterId}
      resource="events"
      params={params}
      onOrderingChange={fixed ? undefined : orderingHandler(set)}
      tableKey="cluster.events"
      label={t('inventory.table.events')}
      toolbar={toolbar}
      testId="events-table"
      rowTestId={(r: InventoryRow<EventData>) => `event-row-${r.data.type || r.phase}`}
      rowClassName={(r: InventoryRow<EventData>) => ((r.data.type || r.phase) === 'Warning' ? 'row-warning' : undefined)}
      columns={columns}
    />
  );
}
