/**
 * The inventory tabs that are plain tables: namespaces, workloads, services, ingresses,
 * volumes (PVs), claims (PVCs), storage classes and events. Filters are kept in the URL.
 */
import { useEffect, useRef, useState } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { PhaseBadge } from '../badges';
import { bytesHuman, relativeTime, useNow } from '../format';
import type { InventoryParams } from '../queries';
import {
  WORKLOAD_KINDS,
  type ClaimData,
  type EventData,
  type IngressData,
  type InventoryRow,
  type ServiceData,
  type StorageClassData,
  type VolumeData,
  type WorkloadData,
} from '../types';
import { InventoryTable, type Column } from './InventoryTable';
import { ObjectActions } from '../../objects/ObjectActions';
import { refOfRow } from '../../objects/paths';

/** Reads/writes some filters in the URL query; text inputs apply after a short pause. */
export function useUrlFilters<K extends string>(keys: readonly K[]): [Record<K, string>, (key: K, value: string) => void] {
  const [params, setParams] = useSearchParams();
  const values = Object.fromEntries(keys.map((k) => [k, params.get(k) ?? ''])) as Record<K, string>;
  const set = (key: K, value: string) => {
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );
  };
  return [values, set];
}

/** A text input that reports its value after the user pauses typing. */
export function DebouncedInput({
  value,
  onCommit,
  label,
  name,
  placeholder,
}: {
  value: string;
  onCommit: (value: string) => void;
  label: string;
  name: string;
  placeholder?: string;
}) {
  const [draft, setDraft] = useState(value);
  const commit = useRef(onCommit);
  useEffect(() => {
    commit.current = onCommit;
  });
  useEffect(() => setDraft(value), [value]);
  useEffect(() => {
    if (draft === value) return undefined;
    const timer = setTimeout(() => commit.current(draft.trim()), 350);
    return () => clearTimeout(timer);
  }, [draft, value]);
  return (
    <label className="field">
      <span>{label}</span>
      <input name={name} value={draft} placeholder={placeholder} onChange={(e) => setDraft(e.target.value)} />
    </label>
  );
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

const FILTER_NS_Q = ['namespace', 'q'] as const;

function Age({ iso }: { iso: string | null }) {
  const { i18n } = useTranslation();
  const now = useNow(30_000);
  return <span title={iso ?? undefined}>{relativeTime(iso, now, i18n.language) ?? '—'}</span>;
}

function nameCol<D>(header: string): Column<D> {
  return { key: 'name', header, render: (r) => <span className="mono">{r.name}</span> };
}
function nsCol<D>(header: string): Column<D> {
  return { key: 'namespace', header, render: (r) => <span className="mono">{r.namespace}</span> };
}
function ageCol<D>(header: string): Column<D> {
  return { key: 'age', header, render: (r) => <Age iso={r.created} />, className: 'nowrap' };
}

export function NamespacesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['q'] as const);
  return (
    <>
      <div className="filters">
        <DebouncedInput name="q" label={t('clusters.filter.search')} value={filters.q} onCommit={(v) => set('q', v)} />
      </div>
      <InventoryTable<'Namespace'>
        clusterId={clusterId}
        resource="namespaces"
        params={filters}
        testId="namespaces-table"
        rowTestId={(r) => `namespace-row-${r.name}`}
        columns={[
          nameCol(t('clusters.col.name')),
          { key: 'phase', header: t('clusters.col.status'), render: (r) => <PhaseBadge text={r.phase} /> },
          { key: 'labels', header: t('clusters.field.labels'), render: (r) => <Labels labels={r.labels} /> },
          ageCol(t('clusters.col.age')),
        ]}
      />
    </>
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

export function WorkloadsTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['namespace', 'q', 'kind'] as const);
  return (
    <>
      <div className="filters">
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
      </div>
      <InventoryTable<'Deployment'>
        clusterId={clusterId}
        resource="workloads"
        params={filters}
        testId="workloads-table"
        rowTestId={(r) => `workload-row-${r.kind}-${r.namespace}-${r.name}`}
        columns={[
          { key: 'kind', header: t('clusters.col.kind'), render: (r) => r.kind },
          nsCol(t('clusters.col.namespace')),
          { key: 'name', header: t('clusters.col.name'), render: (r) => <NameToPods clusterId={clusterId} row={r} selector={r.data.selector} /> },
          { key: 'status', header: t('clusters.col.status'), render: (r) => <PhaseBadge text={r.phase} /> },
          { key: 'replicas', header: t('clusters.col.replicas'), render: (r) => replicas(r.data, r.kind), className: 'num' },
          {
            key: 'images',
            header: t('clusters.col.images'),
            render: (r) => <span className="mono small wrap-any">{(r.data.images ?? []).join(', ')}</span>,
          },
          ageCol(t('clusters.col.age')),
          {
            key: 'actions',
            header: t('objects.actions'),
            render: (r) => {
              const ref = refOfRow(r);
              return ref ? <ObjectActions clusterId={clusterId} objectRef={{ ...ref, kind: r.kind }} replicas={r.data.replicas ?? null} /> : null;
            },
          },
        ]}
      />
    </>
  );
}

function ports(d: ServiceData): string {
  return (d.ports ?? [])
    .map((p) => `${p.port}${p.node_port ? `:${p.node_port}` : ''}${p.target_port ? `→${p.target_port}` : ''}/${p.protocol}`)
    .join(', ');
}

export function ServicesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(FILTER_NS_Q);
  const columns: Column<ServiceData>[] = [
    nsCol(t('clusters.col.namespace')),
    { key: 'name', header: t('clusters.col.name'), render: (r) => <NameToPods clusterId={clusterId} row={r} selector={r.data.selector} /> },
    { key: 'type', header: t('clusters.col.type'), render: (r) => r.data.type },
    { key: 'ip', header: t('clusters.col.clusterIp'), render: (r) => <span className="mono">{r.data.cluster_ip}</span> },
    { key: 'ext', header: t('clusters.col.externalIp'), render: (r) => <span className="mono">{(r.data.external_ips ?? []).join(', ') || '—'}</span> },
    { key: 'ports', header: t('clusters.col.ports'), render: (r) => <span className="mono small">{ports(r.data)}</span> },
    ageCol(t('clusters.col.age')),
  ];
  return (
    <>
      <div className="filters">
        <NsAndSearch filters={filters} set={set} />
      </div>
      <InventoryTable<'Service'> clusterId={clusterId} resource="services" params={filters} testId="services-table" columns={columns} />
    </>
  );
}

export function IngressesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(FILTER_NS_Q);
  const columns: Column<IngressData>[] = [
    nsCol(t('clusters.col.namespace')),
    nameCol(t('clusters.col.name')),
    { key: 'class', header: t('clusters.col.class'), render: (r) => r.data.class_name ?? '—' },
    {
      key: 'rules',
      header: t('clusters.col.rules'),
      render: (r) => (
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
      ),
    },
    { key: 'addr', header: t('clusters.col.addresses'), render: (r) => <span className="mono">{(r.data.addresses ?? []).join(', ') || '—'}</span> },
    { key: 'tls', header: 'TLS', render: (r) => (r.data.tls_hosts ?? []).join(', ') || '—' },
  ];
  return (
    <>
      <div className="filters">
        <NsAndSearch filters={filters} set={set} />
      </div>
      <InventoryTable<'Ingress'> clusterId={clusterId} resource="ingresses" params={filters} testId="ingresses-table" columns={columns} />
    </>
  );
}

export function VolumesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['q'] as const);
  const pv: Column<VolumeData>[] = [
    nameCol(t('clusters.col.name')),
    { key: 'status', header: t('clusters.col.status'), render: (r) => <PhaseBadge text={r.phase} /> },
    { key: 'cap', header: t('clusters.col.capacity'), render: (r) => bytesHuman(r.data.capacity), className: 'num' },
    { key: 'modes', header: t('clusters.col.accessModes'), render: (r) => (r.data.access_modes ?? []).join(', ') },
    { key: 'reclaim', header: t('clusters.col.reclaim'), render: (r) => r.data.reclaim_policy },
    { key: 'sc', header: t('clusters.col.storageClass'), render: (r) => r.data.storage_class || '—' },
    { key: 'claim', header: t('clusters.col.claim'), render: (r) => <span className="mono">{r.data.claim ?? '—'}</span> },
  ];
  return (
    <>
      <div className="filters">
        <DebouncedInput name="q" label={t('clusters.filter.search')} value={filters.q} onCommit={(v) => set('q', v)} />
      </div>
      <InventoryTable<'PersistentVolume'> clusterId={clusterId} resource="volumes" params={filters} testId="volumes-table" columns={pv} />
    </>
  );
}

export function ClaimsTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(FILTER_NS_Q);
  const pvc: Column<ClaimData>[] = [
    nsCol(t('clusters.col.namespace')),
    nameCol(t('clusters.col.name')),
    { key: 'status', header: t('clusters.col.status'), render: (r) => <PhaseBadge text={r.phase} /> },
    { key: 'req', header: t('clusters.col.requested'), render: (r) => bytesHuman(r.data.requested), className: 'num' },
    { key: 'cap', header: t('clusters.col.capacity'), render: (r) => bytesHuman(r.data.capacity), className: 'num' },
    { key: 'modes', header: t('clusters.col.accessModes'), render: (r) => (r.data.access_modes ?? []).join(', ') },
    { key: 'sc', header: t('clusters.col.storageClass'), render: (r) => r.data.storage_class || '—' },
    { key: 'vol', header: t('clusters.col.volume'), render: (r) => <span className="mono">{r.data.volume_name || '—'}</span> },
  ];
  return (
    <>
      <div className="filters">
        <NsAndSearch filters={filters} set={set} />
      </div>
      <InventoryTable<'PersistentVolumeClaim'> clusterId={clusterId} resource="claims" params={filters} testId="claims-table" columns={pvc} />
    </>
  );
}

export function StorageClassesTab({ clusterId }: { clusterId: number }) {
  const { t } = useTranslation();
  const columns: Column<StorageClassData>[] = [
    {
      key: 'name',
      header: t('clusters.col.name'),
      render: (r) => (
        <>
          <span className="mono">{r.name}</span> {r.data.is_default && <span className="badge tone-ok">{t('clusters.default')}</span>}
        </>
      ),
    },
    { key: 'prov', header: t('clusters.col.provisioner'), render: (r) => <span className="mono">{r.data.provisioner}</span> },
    { key: 'reclaim', header: t('clusters.col.reclaim'), render: (r) => r.data.reclaim_policy },
    { key: 'binding', header: t('clusters.col.bindingMode'), render: (r) => r.data.volume_binding_mode },
    ageCol(t('clusters.col.age')),
  ];
  return <InventoryTable<'StorageClass'> clusterId={clusterId} resource="storageclasses" params={{}} testId="storageclasses-table" columns={columns} />;
}

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

export function EventsTab({ clusterId, fixed }: { clusterId: number; fixed?: InventoryParams }) {
  const { t } = useTranslation();
  const [filters, set] = useUrlFilters(['namespace', 'type'] as const);
  const params = fixed ?? filters;
  return (
    <>
      {!fixed && (
        <div className="filters">
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
      )}
      <InventoryTable<'Event'>
        clusterId={clusterId}
        resource="events"
        params={params}
        testId="events-table"
        rowTestId={(r: InventoryRow<EventData>) => `event-row-${r.data.type || r.phase}`}
        rowClassName={(r: InventoryRow<EventData>) => ((r.data.type || r.phase) === 'Warning' ? 'row-warning' : undefined)}
        columns={eventColumns(t)}
      />
    </>
  );
}
