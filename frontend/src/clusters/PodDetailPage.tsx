/**
 * /clusters/:id/pods/:namespace/:name — a pod's projection, its containers, its events, and the
 * full object fetched live from the cluster (YAML or JSON). Kept live from `cluster.<id>`.
 */
import { lazy, Suspense, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ErrorState } from '../components/ErrorState';
import { apiErrorText } from '../lib/messages';
import { Loading } from '../components/Loading';
import { NotFound } from '../pages/NotFound';
import { PhaseBadge } from './badges';
import { PodLogs } from './PodLogs';
import { bytesHuman, cores, relativeTime, useNow } from './format';
import { useClusterLive } from './live';
import { useCluster, useCachedPod, usePodDetail } from './queries';
import type { ContainerStatus, PodDetail } from './types';
import { POD_LOGS_ANCHOR, POD_TERMINAL_ANCHOR } from './tabs/PodsTab';
import { EventsTab, Labels } from './tabs/SimpleTabs';
import { toYaml } from './yaml';
import { ObjectActions } from '../objects/ObjectActions';
import { useObject } from '../objects/queries';

// The terminal (xterm, ~84 kB gzip) loads when the pod page renders it, not with the page's chunk.
const PodTerminal = lazy(() => import('./PodTerminal').then((m) => ({ default: m.PodTerminal })));

/** The kubelet resets a container's restart back-off after 10 minutes of running. */
const BACKOFF_RESET_MS = 10 * 60_000;

/**
 * A container's state as shown: one that keeps crashing reads CrashLoopBackOff also in the few
 * seconds it runs between two crashes (it flipped between running and CrashLoopBackOff).
 */
export function containerStateText(c: ContainerStatus, now: number): string {
  if (c.reason) return c.reason;
  const finished = c.last_finished ? Date.parse(c.last_finished) : NaN;
  if (c.state === 'running' && c.restart_count >= 2 && c.last_reason && Number.isFinite(finished) && now - finished < BACKOFF_RESET_MS) return 'CrashLoopBackOff';
  return c.state;
}

/** A pod's limit of one resource: "no limit" when a container sets none (the sum would read 0). */
function limitText(value: number | undefined, object: Record<string, unknown>, resource: 'cpu' | 'memory', show: (v: number) => string, none: string): string {
  const spec = (object.spec ?? {}) as { containers?: { resources?: { limits?: Record<string, unknown> } }[] };
  const unset = (spec.containers ?? []).some((c) => c.resources?.limits?.[resource] === undefined);
  return !value || unset ? none : show(value);
}

export function PodDetailPage() {
  const { t, i18n } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const namespace = params.namespace ?? '';
  const name = params.name ?? '';
  const cluster = useCluster(id);
  const pod = usePodDetail(id, namespace, name);
  const [format, setFormat] = useState<'yaml' | 'json'>('yaml');
  const now = useNow(30_000);
  useClusterLive(id);
  const cached = useCachedPod(id, namespace, name);
  // The object's permissions say whether the terminal may connect (pods.exec), and why not.
  const execPermission = useObject(id, { group: 'core', version: 'v1', plural: 'pods', kind: 'Pod', namespace, name }).data?.permissions['pods.exec'];
  // … and whether its log may be read (pods.logs); until they arrive the log's own answer tells.
  const logsPermission = useObject(id, { group: 'core', version: 'v1', plural: 'pods', kind: 'Pod', namespace, name }).data?.permissions['pods.logs'];
  // A link to a panel (#pod-logs, #pod-terminal, from the pods tab's menus) scrolls to it once the pod is shown.
  const { hash } = useLocation();
  const shown = pod.data !== undefined || (pod.isError && cached !== null);
  useEffect(() => {
    if (hash && shown) document.getElementById(decodeURIComponent(hash.slice(1)))?.scrollIntoView?.({ block: 'start' });
  }, [hash, shown]);
  if (pod.isError && pod.error instanceof ApiError && pod.error.status === 404) return <NotFound />;
  // The cluster did not answer (503 cluster_timeout/cluster_unreachable, 502 its error): show the
  // last known projection, marked as such.
  const unreachable = pod.isError && pod.error instanceof ApiError && [502, 503, 504].includes(pod.error.status);
  const p: PodDetail | undefined = pod.data ?? (unreachable && cached ? { ...cached, object: {} } : undefined);
  return (
    <section className="page page-wide" data-testid="pod-page">
      <p className="muted small breadcrumbs">
        <Link to="/clusters">{t('nav.clusters')}</Link> / <Link to={`/clusters/${id}/pods`}>{cluster.data?.name ?? id}</Link> /{' '}
        {namespace}
      </p>
      <header className="page-header page-header-row">
        <h1 className="mono">{name}</h1>
        <Link className="btn" to={`/logs/${id}/${encodeURIComponent(namespace)}/pod/${encodeURIComponent(name)}`} data-testid="follow-logs">{t('alerts.logs.follow')}</Link>
        <Link className="btn" to={`/monitoring/clusters/${id}/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`} data-testid="open-charts">{t('monitoring.openCharts')}</Link>
        <ObjectActions clusterId={id} objectRef={{ group: 'core', version: 'v1', plural: 'pods', kind: 'Pod', namespace, name }} />
      </header>
      {pod.isPending && <Loading />}
      {pod.isError && !(unreachable && p) && <ErrorState error={pod.error} onRetry={() => void pod.refetch()} />}
      {unreachable && p && (
        <div className="alert alert-warning" role="status" data-testid="pod-stale">
          <span>
            {t('clusters.podFromCache')} ({apiErrorText(t, pod.error)})
          </span>
          <button type="button" className="btn btn-small" onClick={() => void pod.refetch()}>
            {t('common.retry')}
          </button>
        </div>
      )}
      {p && (
        <>
          <section className="card">
            <dl className="facts">
              <div>
                <dt>{t('clusters.col.status')}</dt>
                <dd data-testid="pod-status">
                  <PhaseBadge text={p.data.status_text || p.phase} />
                </dd>
              </div>
              <div>
                <dt>{t('clusters.col.ready')}</dt>
                <dd>{p.data.ready}</dd>
              </div>
              <div>
                <dt>{t('clusters.col.restarts')}</dt>
                <dd>{p.data.restarts}</dd>
              </div>
              <div>
                <dt>{t('clusters.col.node')}</dt>
                <dd className="mono">{p.node_name || '—'}</dd>
              </div>
              <div>
                <dt>{t('clusters.col.podIp')}</dt>
                <dd className="mono">{p.data.pod_ip || '—'}</dd>
              </div>
              <div>
                <dt>{t('clusters.col.owner')}</dt>
                <dd className="mono wrap-any" data-testid="pod-owner">{p.data.owner ? `${p.data.owner.kind}/${p.data.owner.name}` : '—'}</dd>
              </div>
              <div>
                <dt>QoS</dt>
                <dd>{p.data.qos_class || '—'}</dd>
              </div>
              <div>
                <dt>{t('clusters.col.requests')}</dt>
                <dd>
                  {cores(p.data.requests?.cpu)} CPU · {bytesHuman(p.data.requests?.memory)}
                </dd>
              </div>
              <div>
                <dt>{t('clusters.col.limits')}</dt>
                <dd>
                  <span data-testid="pod-limit-cpu">{limitText(p.data.limits?.cpu, p.object, 'cpu', (v) => `${cores(v)} CPU`, `CPU ${t('clusters.noLimit')}`)}</span> ·{' '}
                  <span data-testid="pod-limit-memory">{limitText(p.data.limits?.memory, p.object, 'memory', bytesHuman, `${t('clusters.memoryWord')} ${t('clusters.noLimit')}`)}</span>
                </dd>
              </div>
              <div>
                <dt>{t('clusters.col.age')}</dt>
                <dd>{relativeTime(p.created, now, i18n.language) ?? '—'}</dd>
              </div>
            </dl>
            <Labels labels={p.labels} />
          </section>
          <section className="card">
            <h2 className="card-title">{t('clusters.containers')}</h2>
            <table className="table table-dense" data-testid="containers-table">
              <thead>
                <tr>
                  <th scope="col">{t('clusters.col.name')}</th>
                  <th scope="col">{t('clusters.col.image')}</th>
                  <th scope="col">{t('clusters.col.state')}</th>
                  <th scope="col">{t('clusters.col.ready')}</th>
                  <th scope="col">{t('clusters.col.restarts')}</th>
                </tr>
              </thead>
              <tbody>
                {(p.data.containers ?? []).map((c) => (
                  <tr key={c.name} data-testid={`container-${c.name}`}>
                    <td className="mono">{c.name}</td>
                    <td className="mono small wrap-any">{c.image}</td>
                    <td>
                      <PhaseBadge text={containerStateText(c, now)} />
                    </td>
                    <td>{c.ready ? '✓' : '✗'}</td>
                    <td className={`num ${c.restart_count > 0 ? 'warn-text' : ''}`}>{c.restart_count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section className="card" id={POD_LOGS_ANCHOR} data-testid="pod-logs-card">
            <h2 className="card-title">{t('logs.title')}</h2>
            <PodLogs clusterId={id} namespace={namespace} pod={name} containers={(p.data.containers ?? []).map((c) => c.name)} permission={logsPermission} />
          </section>
          <section className="card" id={POD_TERMINAL_ANCHOR} data-testid="pod-terminal-card">
            <h2 className="card-title">{t('terminal.title')}</h2>
            <Suspense fallback={<Loading />}>
              <PodTerminal clusterId={id} namespace={namespace} pod={name} containers={(p.data.containers ?? []).map((c) => c.name)} permission={execPermission} />
            </Suspense>
          </section>
          <section className="card">
            <h2 className="card-title">{t('clusters.tab.events')}</h2>
            <EventsTab clusterId={id} fixed={{ namespace, involved_kind: 'Pod', involved_name: name }} />
          </section>
          <section className="card">
            <div className="tab-toolbar">
              <h2 className="card-title">{t('clusters.liveObject')}</h2>
              <div className="segmented" role="group" aria-label={t('clusters.format')}>
                <button type="button" className={format === 'yaml' ? 'active' : ''} aria-pressed={format === 'yaml'} onClick={() => setFormat('yaml')}>
                  YAML
                </button>
                <button type="button" className={format === 'json' ? 'active' : ''} aria-pressed={format === 'json'} onClick={() => setFormat('json')}>
                  JSON
                </button>
              </div>
            </div>
            {p.object && Object.keys(p.object).length > 0 ? (
              <pre className="code-block" data-testid="pod-object" tabIndex={0}>
                {format === 'yaml' ? toYaml(p.object) : JSON.stringify(p.object, null, 2)}
              </pre>
            ) : (
              <p className="muted">{t('clusters.objectUnavailable')}</p>
            )}
          </section>
        </>
      )}
    </section>
  );
}
