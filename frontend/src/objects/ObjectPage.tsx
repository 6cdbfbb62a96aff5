/**
 * /clusters/:id/objects/:group/:version/:plural/:name?namespace=&tab= — any object of any cluster:
 * its header (kind, namespace, owners, field managers, the catalog release that owns it), the
 * actions menu, and tabs: YAML (view, edit with dry-run diff, apply), its timeline (who changed it
 * and what happened next, src/activity/Timeline.tsx) and, for pods, a terminal (PodTerminal). A workload's pods are listed under it, kept live by the watcher, so the
 * result of a change (new pods after a scale or restart) shows up without a reload.
 */
import { lazy, Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { Timeline } from '../activity/Timeline';
import { ApiError } from '../api/errors';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { NotFound } from '../pages/NotFound';
import { PhaseBadge } from '../clusters/badges';
import { relativeTime, useNow } from '../clusters/format';
import { useNamespaceLive } from '../clusters/live';
import { useCluster, useInventory, usePodDetail } from '../clusters/queries';
import { InventoryTable } from '../clusters/tabs/InventoryTable';
import { podPath } from '../clusters/tabs/PodsTab';
import type { PodData, WorkloadData } from '../clusters/types';
import { ReleaseWarning } from './ActionDialogs';
import { ObjectActions } from './ObjectActions';
import { objectPath, refOfRow } from './paths';
import { useObject, useObjectLive } from './queries';
import type { ObjectDetail, ObjectRef } from './types';
import { matchLabelsOf } from './YamlEditor';
import { YamlTab } from './YamlTab';
import './objects.css';

// The terminal (xterm, ~84 kB gzip) loads when a pod's terminal tab opens.
const PodTerminal = lazy(() => import('../clusters/PodTerminal').then((m) => ({ default: m.PodTerminal })));

export const OBJECT_TABS = ['yaml', 'timeline', 'terminal'] as const;
export type ObjectTab = (typeof OBJECT_TABS)[number];

/** The tabs an object of this kind has: a terminal only for pods. */
export function tabsOf(kind: string | undefined): ObjectTab[] {
  return OBJECT_TABS.filter((x) => x !== 'terminal' || kind === 'Pod');
}

const WORKLOADS_WITH_PODS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
/** Workloads with a chart of their own (the top owners of pods; a ReplicaSet counts as its Deployment). */
const CHARTED_WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

function Owners({ clusterId, detail }: { clusterId: number; detail: ObjectDetail }) {
  const { t } = useTranslation();
  if (detail.owners.length === 0) return <span className="muted">—</span>;
  return (
    <span className="chips" data-testid="object-owners">
      {detail.owners.map((o) => {
        const ref = refOfRow({ kind: o.kind, namespace: detail.namespace, name: o.name });
        const text = `${o.kind}/${o.name}`;
        return ref ? (
          <Link key={text} className="chip small mono" to={objectPath(clusterId, ref)} title={t('objects.openOwner')}>
            {text}
          </Link>
        ) : (
          <span key={text} className="chip small mono">
            {text}
          </span>
        );
      })}
    </span>
  );
}

function Managers({ detail }: { detail: ObjectDetail }) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  if (detail.managers.length === 0) return null;
  return (
    <details className="object-managers" data-testid="object-managers">
      <summary className="small">{t('objects.managers', { count: detail.managers.length })}</summary>
      <table className="table table-dense table-compact">
        <thead>
          <tr>
            <th scope="col">{t('objects.manager')}</th>
            <th scope="col">{t('objects.operation')}</th>
            <th scope="col">{t('objects.when')}</th>
          </tr>
        </thead>
        <tbody>
          {detail.managers.map((m, i) => (
            <tr key={`${m.manager}-${m.operation}-${i}`}>
              <td className="mono small">{m.manager}</td>
              <td className="small">{m.operation}</td>
              <td className="small">{relativeTime(m.time, now, i18n.language) ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

/**
 * The pods of a workload, by its selector (from its YAML, else from the read model's row), live
 * through the watcher: what a scale or restart does shows up here without a reload.
 */
function WorkloadPods({ clusterId, detail }: { clusterId: number; detail: ObjectDetail }) {
  const { t } = useTranslation();
  const { kind, namespace, name } = detail;
  const fromYaml = matchLabelsOf(detail.yaml);
  const rows = useInventory<'Deployment'>(clusterId, 'workloads', { namespace, kind, q: name }, { pageSize: 50, enabled: fromYaml === null });
  useNamespaceLive(clusterId, fromYaml === null ? namespace : '');
  const row = rows.data?.pages.flatMap((p) => p.results).find((r) => r.name === name && r.kind === kind);
  const selector = fromYaml ?? (row?.data as WorkloadData | undefined)?.selector;
  const labelSelector = Object.entries(selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return (
    <section className="card" data-testid="object-pods">
      <h2 className="card-title">{t('objects.pods')}</h2>
      {fromYaml === null && rows.isPending && <Loading />}
      {fromYaml === null && rows.isError && <ErrorState error={rows.error} onRetry={() => void rows.refetch()} />}
      {(fromYaml !== null || rows.data) && !labelSelector && <p className="muted small">{t('objects.noSelector')}</p>}
      {labelSelector && (
        <InventoryTable<'Pod'>
          clusterId={clusterId}
          resource="pods"
          params={{ namespace, label_selector: labelSelector }}
          testId="object-pods-table"
          rowTestId={(r) => `object-pod-${r.name}`}
          columns={[
            {
              key: 'name',
              header: t('clusters.col.name'),
              render: (r) => (
                <Link className="mono" to={podPath(clusterId, r)}>
                  {r.name}
                </Link>
              ),
            },
            { key: 'status', header: t('clusters.col.status'), render: (r) => <PhaseBadge text={(r.data as PodData).status_text || r.phase} /> },
            { key: 'ready', header: t('clusters.col.ready'), render: (r) => (r.data as PodData).ready },
            { key: 'restarts', header: t('clusters.col.restarts'), render: (r) => (r.data as PodData).restarts, className: 'num' },
            { key: 'node', header: t('clusters.col.node'), render: (r) => <span className="mono small">{r.node_name || '—'}</span> },
          ]}
        />
      )}
    </section>
  );
}

/** A pod's shell: the containers come from the pod's projection; `pods.exec` from the object's permissions. */
function TerminalTab({ clusterId, detail }: { clusterId: number; detail: ObjectDetail }) {
  const pod = usePodDetail(clusterId, detail.namespace, detail.name);
  const exec = detail.permissions['pods.exec'];
  if (pod.isPending) return <Loading />;
  if (pod.isError) return <ErrorState error={pod.error} onRetry={() => void pod.refetch()} />;
  return (
    <Suspense fallback={<Loading />}>
      <PodTerminal
        clusterId={clusterId}
        namespace={detail.namespace}
        pod={detail.name}
        containers={(pod.data.data.containers ?? []).map((c) => c.name)}
        permission={exec ? { allowed: exec.allowed, reason: exec.reason } : undefined}
      />
    </Suspense>
  );
}

export function ObjectPage() {
  const { t } = useTranslation();
  const params = useParams();
  const [search, setSearch] = useSearchParams();
  const id = Number(params.id);
  const objectRef: ObjectRef = {
    group: params.group ?? 'core',
    version: params.version ?? '',
    plural: params.plural ?? '',
    name: params.name ?? '',
    namespace: search.get('namespace') ?? '',
  };
  const requested: ObjectTab = OBJECT_TABS.find((x) => x === search.get('tab')) ?? 'yaml';
  const cluster = useCluster(id);
  const object = useObject(id, objectRef, { enabled: Number.isInteger(id) });
  const setTab = (next: ObjectTab) => {
    const query = new URLSearchParams(search);
    query.set('tab', next);
    setSearch(query, { replace: true });
  };
  if (!Number.isInteger(id)) return <NotFound />;
  const detail = object.data;
  useObjectLive(id, objectRef, detail?.kind);
  const tabs = tabsOf(detail?.kind);
  const tab: ObjectTab = tabs.includes(requested) ? requested : 'yaml';
  const gvr = `${objectRef.group}/${objectRef.version}/${objectRef.plural}`;
  const resourcesLink = `/clusters/${id}/resources?${new URLSearchParams({ kind: gvr, ...(objectRef.namespace ? { namespace: objectRef.namespace } : {}) }).toString()}`;
  return (
    <section className="page page-wide object-page" data-testid="object-page">
      <p className="muted small breadcrumbs">
        <Link to="/clusters">{t('nav.clusters')}</Link> / <Link to={`/clusters/${id}/resources`}>{cluster.data?.name ?? id}</Link> /{' '}
        <Link to={resourcesLink}>{detail?.kind ?? objectRef.plural}</Link>
        {objectRef.namespace && <> / {objectRef.namespace}</>}
      </p>
      <header className="page-header page-header-row">
        <h1>
          <span className="muted">{detail?.kind ?? objectRef.plural}</span> <span className="object-title-name">{objectRef.name}</span>
        </h1>
        {detail && (detail.kind === 'Pod' || WORKLOADS_WITH_PODS.has(detail.kind)) && detail.namespace && (
          <Link className="btn" to={`/logs/${id}/${encodeURIComponent(detail.namespace)}/${detail.kind === 'Pod' ? 'pod' : detail.kind}/${encodeURIComponent(detail.name)}`} data-testid="follow-logs">{t('alerts.logs.follow')}</Link>
        )}
        {detail && CHARTED_WORKLOADS.has(detail.kind) && detail.namespace && (
          <Link className="btn" to={`/monitoring/clusters/${id}/workloads/${encodeURIComponent(detail.namespace)}/${detail.kind}/${encodeURIComponent(detail.name)}`} data-testid="open-charts">{t('monitoring.openCharts')}</Link>
        )}
        {detail && (
          <ObjectActions clusterId={id} objectRef={{ ...objectRef, kind: detail.kind }} detail={detail} onEdit={() => setTab('yaml')} />
        )}
      </header>
      {object.isPending && <Loading />}
      {object.isError &&
        (object.error instanceof ApiError && object.error.status === 404 ? (
          <p className="alert alert-warning" data-testid="object-not-found">
            {t('objects.notFound', { name: objectRef.name })}
          </p>
        ) : (
          <ErrorState error={object.error} onRetry={() => void object.refetch()} />
        ))}
      {detail && (
        <>
          <ReleaseWarning release={detail.owner_release} />
          <section className="card">
            <dl className="facts">
              <div>
                <dt>{t('clusters.col.kind')}</dt>
                <dd data-testid="object-kind">{detail.kind}</dd>
              </div>
              <div>
                <dt>API</dt>
                <dd className="mono small">{detail.api_version}</dd>
              </div>
              <div>
                <dt>{t('clusters.col.namespace')}</dt>
                <dd className="mono">{detail.namespace || t('objects.clusterScoped')}</dd>
              </div>
              <div>
                <dt>{t('clusters.col.owner')}</dt>
                <dd>
                  <Owners clusterId={id} detail={detail} />
                </dd>
              </div>
              <div>
                <dt>{t('objects.resourceVersion')}</dt>
                <dd className="mono small" data-testid="object-resource-version">
                  {detail.resource_version}
                </dd>
              </div>
              {detail.kind === 'Pod' && (
                <div>
                  <dt>{t('objects.podView')}</dt>
                  <dd>
                    <Link to={podPath(id, { namespace: detail.namespace, name: detail.name })}>{t('objects.openPodView')}</Link>
                  </dd>
                </div>
              )}
            </dl>
            <Managers detail={detail} />
          </section>
          {WORKLOADS_WITH_PODS.has(detail.kind) && detail.namespace && (
            <WorkloadPods clusterId={id} detail={detail} />
          )}
          <nav className="tabs" aria-label={t('objects.tabsLabel')}>
            {tabs.map((x) => (
              <button
                key={x}
                type="button"
                className={x === tab ? 'tab active' : 'tab'}
                aria-current={x === tab ? 'page' : undefined}
                onClick={() => setTab(x)}
                data-testid={`object-tab-${x}`}
              >
                {t(`objects.tab.${x}`)}
              </button>
            ))}
          </nav>
          <section className="card tab-panel" data-testid={`object-panel-${tab}`}>
            {tab === 'yaml' && <YamlTab key={`${gvr}/${objectRef.namespace}/${objectRef.name}`} clusterId={id} objectRef={{ ...objectRef, kind: detail.kind }} detail={detail} />}
            {tab === 'timeline' && <Timeline scope={{ cluster: id, namespace: detail.namespace, kind: detail.kind, name: detail.name }} />}
            {tab === 'terminal' && <TerminalTab clusterId={id} detail={detail} />}
          </section>
        </>
      )}
    </section>
  );
}
