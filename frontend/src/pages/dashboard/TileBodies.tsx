/** The body of each tile, by key (the data shapes are in types.ts and docs/dashboards.md). */
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { messageText } from '../../lib/messages';
import { Sparkline } from './Sparkline';
import type {
  AlertsData,
  AuditData,
  BuildsData,
  CapacityData,
  ClustersData,
  CostData,
  EventsData,
  FiringData,
  FleetData,
  HealthData,
  NodesData,
  QuotaData,
  ReleasesData,
  ServiceMapsData,
  Tile,
} from './types';
import { cores, gib, level, money, percent, seconds, word } from './words';

function Figure({ value, label, testId, tone }: { value: ReactNode; label: string; testId: string; tone?: string }) {
  return (
    <div className={`tile-figure ${tone ?? ''}`} data-testid={testId}>
      <span className="tile-figure-value">{value}</span>
      <span className="tile-figure-label">{label}</span>
    </div>
  );
}

function Empty({ text, to, action, testId }: { text: string; to?: string; action?: string; testId: string }) {
  return (
    <p className="tile-empty" data-testid={testId}>
      {text} {to && action && <Link to={to}>{action}</Link>}
    </p>
  );
}

function Counts({ counts, group, testId }: { counts: Record<string, number>; group: string; testId: string }) {
  const { t } = useTranslation();
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  if (entries.length === 0) return null;
  return (
    <ul className="tile-counts" data-testid={testId}>
      {entries.map(([key, n]) => (
        <li key={key} className={`count-${key}`} data-testid={`${testId}-${key}`}>
          <span className="tile-count-n">{n}</span> {word(t, group, key)}
        </li>
      ))}
    </ul>
  );
}

function FleetBody({ data }: { data: FleetData }) {
  const { t } = useTranslation();
  if (data.clusters.total === 0)
    return <Empty testId="fleet-empty" text={t('dashboards.empty.fleet')} to="/clusters/new" action={t('dashboards.action.registerCluster')} />;
  return (
    <>
      <div className="tile-figures">
        <Figure testId="fleet-clusters" value={data.clusters.total} label={t('dashboards.fleet.clusters')} />
        <Figure
          testId="fleet-nodes-not-ready"
          value={data.nodes.not_ready}
          label={t('dashboards.fleet.notReady', { total: data.nodes.total })}
          tone={data.nodes.not_ready ? 'warning' : undefined}
        />
        <Figure
          testId="fleet-certificates"
          value={data.certificates.count}
          label={t('dashboards.fleet.certificates', { days: data.certificates.within_days })}
          tone={data.certificates.count ? 'warning' : undefined}
        />
      </div>
      <Counts counts={data.clusters.by_status} group="status" testId="fleet-status" />
      {data.attention.length > 0 && (
        <ul className="tile-list" data-testid="fleet-attention">
          {data.attention.map((c) => (
            <li key={c.id}>
              <Link to={c.link}>{c.name}</Link>{' '}
              <span className={`status-word status-${c.status}`}>{word(t, 'status', c.status)}</span>{' '}
              {c.freshness !== c.status && <span className="muted">{word(t, 'freshness', c.freshness)}</span>}
            </li>
          ))}
        </ul>
      )}
      {data.certificates.expiring.length > 0 && (
        <ul className="tile-list" data-testid="fleet-cert-list">
          {data.certificates.expiring.map((c) => (
            <li key={c.id}>
              <Link to={c.link}>{c.name}</Link> — {t('dashboards.fleet.expiresIn', { count: c.days })}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function ClustersBody({ data }: { data: ClustersData }) {
  const { t } = useTranslation();
  if (data.total === 0) return <Empty testId="clusters-empty" text={t('dashboards.empty.clusters')} />;
  return (
    <>
      <Counts counts={data.by_status} group="status" testId="clusters-status" />
      <Counts counts={data.by_freshness} group="freshness" testId="clusters-freshness" />
      <ul className="tile-list" data-testid="clusters-list">
        {data.clusters.map((c) => (
          <li key={c.id}>
            <Link to={c.link}>{c.name}</Link>{' '}
            <span className={`status-word status-${c.status}`}>{word(t, 'status', c.status)}</span>{' '}
            {c.freshness !== c.status && <span className="muted">{word(t, 'freshness', c.freshness)}</span>}
          </li>
        ))}
      </ul>
    </>
  );
}

function CapacityBody({ data }: { data: CapacityData }) {
  const { t } = useTranslation();
  if (data.clusters.length === 0) return <Empty testId="capacity-empty" text={t('dashboards.empty.capacity')} />;
  return (
    <table className="tile-table" data-testid="capacity-table">
      <caption className="visually-hidden">{t('dashboards.capacity.caption', { hours: data.trend_hours })}</caption>
      <thead>
        <tr>
          <th scope="col">{t('dashboards.capacity.cluster')}</th>
          <th scope="col">{t('dashboards.capacity.cpu')}</th>
          <th scope="col">{t('dashboards.capacity.memory')}</th>
          <th scope="col">{t('dashboards.capacity.trend', { hours: data.trend_hours })}</th>
        </tr>
      </thead>
      <tbody>
        {data.clusters.map((c) => (
          <tr key={c.id} data-testid={`capacity-${c.id}`}>
            <td>
              <Link to={c.link}>{c.name}</Link>
            </td>
            <td title={`${cores(c.cpu.requested)} / ${cores(c.cpu.allocatable)}`}>{percent(c.cpu.ratio)}</td>
            <td title={`${gib(c.memory.requested)} / ${gib(c.memory.allocatable)}`}>{percent(c.memory.ratio)}</td>
            <td>
              {c.trend.cpu.length > 1 ? (
                <Sparkline
                  points={c.trend.cpu}
                  label={t('dashboards.capacity.trendLabel', { cluster: c.name, now: percent(c.trend.cpu.at(-1)?.[1]) })}
                />
              ) : (
                <span className="muted">{t('dashboards.capacity.noTrend')}</span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function NodesBody({ data }: { data: NodesData }) {
  const { t } = useTranslation();
  if (data.count === 0) return <Empty testId="nodes-empty" text={t('dashboards.empty.nodes')} />;
  return (
    <>
      <Figure testId="nodes-count" value={data.count} label={t('dashboards.nodes.count')} tone="warning" />
      <ul className="tile-list">
        {data.nodes.map((n) => (
          <li key={`${n.cluster.id}/${n.name}`}>
            <Link to={n.link}>
              {n.cluster.name}/{n.name}
            </Link>{' '}
            <span className="muted">
              {[!n.ready && t('dashboards.nodes.notReady'), n.unschedulable && t('dashboards.nodes.cordoned'), ...n.conditions]
                .filter(Boolean)
                .join(', ')}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}

function AlertsBody({ data }: { data: AlertsData }) {
  const { t } = useTranslation();
  if (data.open === 0) return <Empty testId="alerts-empty" text={t('dashboards.empty.alerts')} to="/alerts/rules" action={t('dashboards.action.rules')} />;
  return (
    <table className="tile-table" data-testid="alerts-table">
      <caption className="visually-hidden">{t('dashboards.tiles.alerts')}</caption>
      <thead>
        <tr>
          <th scope="col">{t('dashboards.alerts.severity')}</th>
          <th scope="col">{word(t, 'alertState', 'firing')}</th>
          <th scope="col">{word(t, 'alertState', 'acknowledged')}</th>
          <th scope="col">{word(t, 'alertState', 'pending')}</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(data.by_severity).map(([severity, states]) => (
          <tr key={severity} data-testid={`alerts-${severity}`}>
            <th scope="row">
              <Link to={`/alerts?state=open&severity=${severity}`}>{word(t, 'severity', severity)}</Link>
            </th>
            <td>{states.firing ?? 0}</td>
            <td>{states.acknowledged ?? 0}</td>
            <td>{states.pending ?? 0}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function FiringBody({ data }: { data: FiringData }) {
  const { t } = useTranslation();
  if (data.count === 0) return <Empty testId="firing-empty" text={t('dashboards.empty.firing')} to="/alerts/rules" action={t('dashboards.action.rules')} />;
  return (
    <>
      <Figure testId="firing-count" value={data.count} label={t('dashboards.firing.count')} tone="critical" />
      <ul className="tile-list" data-testid="firing-list">
        {data.alerts.map((a) => (
          <li key={a.id}>
            <span className={`severity severity-${a.severity}`}>{word(t, 'severity', a.severity)}</span>{' '}
            <Link to={a.link}>{a.rule || a.subject_name}</Link>{' '}
            <span className="muted">{messageText(t, a)}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

function EventsBody({ data }: { data: EventsData }) {
  const { t } = useTranslation();
  if (data.count === 0) return <Empty testId="events-empty" text={t('dashboards.empty.events', { minutes: data.window_minutes })} />;
  return (
    <>
      <Figure testId="events-count" value={data.count} label={t('dashboards.events.count', { minutes: data.window_minutes })} />
      <ul className="tile-counts">
        {data.reasons.map((r) => (
          <li key={r.reason}>
            <span className="tile-count-n">{r.count}</span> {r.reason}
          </li>
        ))}
      </ul>
      <ul className="tile-list">
        {data.events.map((e) => (
          <li key={e.id}>
            <Link to={`/monitoring/events?type=Warning&cluster=${e.cluster.id}`}>{e.cluster.name}</Link>{' '}
            <span className="muted">
              {e.namespace ? `${e.namespace}/` : ''}
              {e.object_kind} {e.object_name}: {e.reason}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}

function CostBody({ data }: { data: CostData }) {
  const { t } = useTranslation();
  if (data.workspaces.length === 0)
    return <Empty testId="cost-empty" text={t('dashboards.empty.cost')} to="/monitoring/prices" action={t('dashboards.action.prices')} />;
  return (
    <>
      <Figure testId="cost-total" value={money(data.total)} label={t('dashboards.cost.total', { month: data.month })} />
      <ul className="tile-list" data-testid="cost-list">
        {data.workspaces.map((w) => (
          <li key={w.workspace?.id ?? 0}>
            <Link to={w.link}>{w.workspace?.display_name || w.workspace?.name || t('dashboards.cost.noWorkspace')}</Link>{' '}
            <span className="tile-right">{w.unpriced && Object.keys(w.costs).length === 0 ? t('dashboards.cost.unpriced') : money(w.costs)}</span>
          </li>
        ))}
      </ul>
      {data.unpriced && (
        <p className="muted small">
          {t('dashboards.cost.unpricedNote')} <Link to="/monitoring/prices">{t('dashboards.action.prices')}</Link>
        </p>
      )}
    </>
  );
}

function QuotaBody({ data, mine }: { data: QuotaData; mine: boolean }) {
  const { t } = useTranslation();
  if (data.allocations.length === 0)
    return mine ? (
      <Empty testId="my_quota-empty" text={t('dashboards.empty.myQuota')} />
    ) : (
      <Empty testId="quota-empty" text={t('dashboards.empty.quota')} to="/workspaces" action={t('dashboards.action.workspaces')} />
    );
  return (
    <ul className="tile-list" data-testid={mine ? 'my_quota-list' : 'quota-list'}>
      {data.allocations.map((a) => (
        <li key={`${a.workspace.id}/${a.cluster.id}`} className="tile-bar-row">
          <Link to={a.link}>
            {a.workspace.display_name || a.workspace.name} · {a.cluster.name}
          </Link>
          <span className="tile-bar" aria-hidden="true">
            <span className={`tile-bar-fill ${level(a.ratio >= 0.9 ? 2 : a.ratio >= 0.75 ? 1 : 0)}`} style={{ width: `${Math.min(100, a.ratio * 100)}%` }} />
          </span>
          <span className="tile-right">{t('dashboards.quota.used', { percent: percent(a.ratio) })}</span>
        </li>
      ))}
    </ul>
  );
}

function AuditBody({ data }: { data: AuditData }) {
  const { t } = useTranslation();
  return (
    <>
      <Counts counts={data.by_outcome} group="outcome" testId="audit-outcomes" />
      <ul className="tile-list" data-testid="audit-list">
        {data.entries.map((e) => (
          <li key={e.id}>
            <span className={`outcome outcome-${e.outcome}`}>{word(t, 'outcome', e.outcome)}</span> <strong>{e.actor || '—'}</strong>{' '}
            {e.action} <span className="muted">{e.target}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

function HealthBody({ data }: { data: HealthData }) {
  const { t } = useTranslation();
  return (
    <>
      <div className="tile-figures">
        <Figure
          testId="health-workers"
          value={data.workers.known ? `${data.workers.alive}/${data.workers.total}` : '—'}
          label={t('dashboards.health.workers')}
          tone={!data.workers.alive ? 'critical' : undefined}
        />
        <Figure
          testId="health-watchers"
          value={`${data.watchers.clusters - data.watchers.unwatched}/${data.watchers.clusters}`}
          label={t('dashboards.health.watched')}
          tone={data.watchers.unwatched ? 'warning' : undefined}
        />
        <Figure
          testId="health-outbox"
          value={data.outbox.pending + data.outbox.sending}
          label={t('dashboards.health.outbox')}
        />
      </div>
      {!data.workers.alive && <p className="tile-empty">{t('dashboards.empty.workers')}</p>}
      {data.watchers.worst.length > 0 && (
        <ul className="tile-list" data-testid="health-lag">
          {data.watchers.worst.map((w) => (
            <li key={w.id}>
              <Link to={w.link}>{w.name}</Link>{' '}
              <span className="muted">
                {w.watched ? t('dashboards.health.lag', { lag: seconds(w.lag_seconds) }) : t('dashboards.health.unwatched')}
              </span>
            </li>
          ))}
        </ul>
      )}
      {data.outbox.oldest_age_seconds !== null && (
        <p className="muted small">{t('dashboards.health.outboxOldest', { age: seconds(data.outbox.oldest_age_seconds) })}</p>
      )}
    </>
  );
}

function ServiceMapsBody({ data }: { data: ServiceMapsData }) {
  const { t } = useTranslation();
  if (data.count === 0)
    return <Empty testId="service_maps-empty" text={t('dashboards.empty.serviceMaps')} to="/servicemaps" action={t('dashboards.action.serviceMaps')} />;
  return (
    <ul className="tile-list" data-testid="service_maps-list">
      {data.service_maps.map((m) => (
        <li key={m.id} className={`tile-row ${level(m.attention)}`} data-testid={`service-map-${m.id}`}>
          <Link to={m.link}>
            {m.workspace.name} / {m.display_name || m.namespace}
          </Link>{' '}
          <span className="muted">{m.cluster.name}</span>
          <span className="tile-right" data-testid={`service-map-${m.id}-figures`}>
            {t('dashboards.serviceMaps.ready', { ready: m.workloads.ready, total: m.workloads.total })}
            {m.restarts > 0 && ` · ${t('dashboards.serviceMaps.restarts', { count: m.restarts })}`}
            {m.alerts.open > 0 && ` · ${t('dashboards.serviceMaps.alerts', { count: m.alerts.open })}`}
          </span>
        </li>
      ))}
    </ul>
  );
}

function ReleasesBody({ data }: { data: ReleasesData }) {
  const { t } = useTranslation();
  if (data.total === 0 && data.rollouts.length === 0)
    return <Empty testId="releases-empty" text={t('dashboards.empty.releases')} to="/catalog" action={t('dashboards.action.catalog')} />;
  return (
    <>
      <Counts counts={data.by_status} group="releaseStatus" testId="releases-status" />
      <ul className="tile-list" data-testid="releases-list">
        {data.releases.map((r) => (
          <li key={r.id} data-testid={`release-${r.id}`}>
            <Link to={r.link}>{r.name}</Link>{' '}
            <span className={`status-word release-${r.status}`}>{word(t, 'releaseStatus', r.status)}</span>{' '}
            <span className="muted">
              {r.package} {r.version} · {r.service_map.namespace}
              {r.status === 'failed' && messageText(t, r) ? ` · ${messageText(t, r)}` : ''}
            </span>
          </li>
        ))}
      </ul>
      {data.rollouts.length > 0 && (
        <>
          <h3 className="tile-subtitle">{t('dashboards.releases.rollouts')}</h3>
          <ul className="tile-list">
            {data.rollouts.map((r) => (
              <li key={r.id}>
                <Link to={r.link}>{r.release_name}</Link> <span className="muted">{word(t, 'rolloutStatus', r.status)}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function BuildsBody({ data }: { data: BuildsData }) {
  const { t } = useTranslation();
  if (data.runs.length === 0)
    return <Empty testId="builds-empty" text={t('dashboards.empty.builds')} to="/builds/new" action={t('dashboards.action.newBuild')} />;
  return (
    <>
      <div className="tile-figures">
        <Figure testId="builds-running" value={data.running} label={t('dashboards.builds.running')} />
        <Figure
          testId="builds-failed"
          value={data.failed}
          label={t('dashboards.builds.failed', { hours: data.window_hours })}
          tone={data.failed ? 'warning' : undefined}
        />
      </div>
      <ul className="tile-list" data-testid="builds-list">
        {data.runs.map((r) => (
          <li key={r.id}>
            <Link to={r.link}>
              {r.definition.name} #{r.number}
            </Link>{' '}
            <span className="muted">{word(t, 'runStatus', r.status)}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

export function TileBody({ tile }: { tile: Tile }) {
  const data: unknown = tile.data;
  switch (tile.key) {
    case 'fleet':
      return <FleetBody data={data as FleetData} />;
    case 'clusters':
      return <ClustersBody data={data as ClustersData} />;
    case 'capacity':
      return <CapacityBody data={data as CapacityData} />;
    case 'nodes':
      return <NodesBody data={data as NodesData} />;
    case 'alerts':
      return <AlertsBody data={data as AlertsData} />;
    case 'firing':
      return <FiringBody data={data as FiringData} />;
    case 'events':
      return <EventsBody data={data as EventsData} />;
    case 'cost':
      return <CostBody data={data as CostData} />;
    case 'quota':
      return <QuotaBody data={data as QuotaData} mine={false} />;
    case 'my_quota':
      return <QuotaBody data={data as QuotaData} mine />;
    case 'audit':
      return <AuditBody data={data as AuditData} />;
    case 'portal_health':
      return <HealthBody data={data as HealthData} />;
    case 'service_maps':
      return <ServiceMapsBody data={data as ServiceMapsData} />;
    case 'releases':
      return <ReleasesBody data={data as ReleasesData} />;
    case 'builds':
      return <BuildsBody data={data as BuildsData} />;
    default:
      return null;
  }
}

/** Tile keys this console knows (a newer server's unknown tiles are skipped). */
export const KNOWN_TILES = new Set([
  'fleet', 'clusters', 'capacity', 'nodes', 'alerts', 'firing', 'events', 'cost', 'quota', 'my_quota', 'audit',
  'portal_health', 'service_maps', 'releases', 'builds',
]);
