/** Pieces the provisioning pages share: badges, the section tabs, live progress and the machines table. */
import { useTranslation } from 'react-i18next';
import { NavLink } from 'react-router-dom';
import { phaseTone } from '../clusters/badges';
import { relativeTime, useNow } from '../clusters/format';
import type { CheckStatus, MachineRow, OperationStatus, Phase, Progress, Provider } from './types';

const PHASE_TONE: Record<Phase, 'ok' | 'warn' | 'bad' | 'neutral'> = {
  pending: 'warn',
  applying: 'warn',
  provisioning: 'warn',
  provisioned: 'ok',
  updating: 'warn',
  deleting: 'warn',
  deleted: 'neutral',
  failed: 'bad',
};

export function ProvisionedPhaseBadge({ phase }: { phase: Phase }) {
  const { t } = useTranslation();
  return (
    <span className={`badge tone-${PHASE_TONE[phase] ?? 'neutral'}`} data-testid="provisioned-phase" data-phase={phase}>
      {t(`provisioning.phase.${phase}`, { defaultValue: phase })}
    </span>
  );
}

export function CheckBadge({ status }: { status: CheckStatus }) {
  const { t } = useTranslation();
  const tone = status === 'ready' ? 'ok' : status === 'error' ? 'bad' : 'warn';
  return (
    <span className={`badge tone-${tone}`} data-testid="management-status" data-status={status}>
      {t(`provisioning.check.${status}`, { defaultValue: status })}
    </span>
  );
}

export function OperationBadge({ status }: { status: OperationStatus }) {
  const { t } = useTranslation();
  const tone = status === 'succeeded' ? 'ok' : status === 'failed' ? 'bad' : 'warn';
  return (
    <span className={`badge tone-${tone}`} data-testid="operation-status" data-status={status}>
      {t(`provisioning.opStatus.${status}`, { defaultValue: status })}
    </span>
  );
}

export function ProviderName({ provider }: { provider: Provider | string }) {
  const { t } = useTranslation();
  return <>{t(`provisioning.provider.${provider as Provider}`, { defaultValue: provider })}</>;
}

export function When({ iso }: { iso: string | null | undefined }) {
  const { i18n } = useTranslation();
  const now = useNow(30_000);
  return <span title={iso ?? undefined}>{relativeTime(iso, now, i18n.language) ?? '—'}</span>;
}

/** Clusters / Management clusters / Templates, above each list page of the section. */
export function SectionTabs() {
  const { t } = useTranslation();
  const tabs = [
    { to: '/provisioning', key: 'clusters', end: true },
    { to: '/provisioning/management', key: 'management', end: false },
    { to: '/provisioning/templates', key: 'templates', end: false },
  ] as const;
  return (
    <nav className="tabs" aria-label={t('provisioning.sections.label')}>
      {tabs.map((x) => (
        <NavLink key={x.key} to={x.to} end={x.end} className={({ isActive }) => (isActive ? 'tab active' : 'tab')} data-testid={`prov-tab-${x.key}`}>
          {t(`provisioning.sections.${x.key}`)}
        </NavLink>
      ))}
    </nav>
  );
}

function Step({ done, label, testId }: { done: boolean; label: string; testId: string }) {
  const { t } = useTranslation();
  return (
    <li data-testid={testId} data-done={String(done)}>
      <span className={`badge tone-${done ? 'ok' : 'warn'}`}>{done ? t('provisioning.cluster.done') : t('provisioning.cluster.waiting')}</span> {label}
    </li>
  );
}

/** Control plane initialised, n/m machines running, nodes ready, and the first failure, from `progress`. */
export function ProgressSummary({ progress }: { progress: Progress }) {
  const { t } = useTranslation();
  const c = progress.cluster;
  const total = progress.machines_total ?? progress.machines?.length ?? 0;
  const running = progress.machines_running ?? 0;
  const nodes = progress.nodes_ready ?? 0;
  return (
    <div data-testid="provisioning-progress" data-running={running} data-total={total} data-nodes-ready={nodes}>
      <ul className="plain-list">
        <Step done={c?.infrastructure_ready === true} label={t('provisioning.cluster.infrastructureReady')} testId="progress-infrastructure" />
        <Step done={c?.control_plane_initialized === true} label={t('provisioning.cluster.controlPlaneInitialized')} testId="progress-cp-initialized" />
        <Step done={progress.kubeconfig === true} label={t('provisioning.cluster.kubeconfig')} testId="progress-kubeconfig" />
        <Step done={total > 0 && running === total} label={t('provisioning.cluster.machinesRunning', { running, total })} testId="progress-machines" />
        <Step done={total > 0 && nodes === total} label={t('provisioning.cluster.nodesReady', { ready: nodes, total })} testId="progress-nodes" />
      </ul>
      {progress.failure && (
        <p className="alert alert-error" role="alert" data-testid="progress-failure">
          {t('provisioning.cluster.failure', { object: progress.failure.object, reason: progress.failure.reason })}
          {progress.failure.message ? ` — ${progress.failure.message}` : ''}
        </p>
      )}
    </div>
  );
}

/** Per machine: pool, phase, node, version, drain, failure reason. */
export function MachinesTable({ machines, caption, testId = 'machines-table' }: { machines: MachineRow[]; caption: string; testId?: string }) {
  const { t } = useTranslation();
  if (machines.length === 0) return <p className="muted small">{t('provisioning.cluster.noMachines')}</p>;
  return (
    <div className="table-scroll">
      <table className="table" data-testid={testId}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t('provisioning.col.name')}</th>
            <th scope="col">{t('provisioning.col.pool')}</th>
            <th scope="col">{t('provisioning.col.phase')}</th>
            <th scope="col">{t('provisioning.col.node')}</th>
            <th scope="col">{t('provisioning.col.version')}</th>
            <th scope="col">{t('provisioning.col.drain')}</th>
            <th scope="col">{t('provisioning.col.reason')}</th>
          </tr>
        </thead>
        <tbody>
          {machines.map((m) => (
            <tr key={m.name} data-testid={`machine-${m.name}`} data-phase={m.phase} data-draining={String(m.draining)}>
              <td className="mono small">{m.name}</td>
              <td>{m.control_plane ? <span className="muted">{t('provisioning.cluster.controlPlane')}</span> : m.pool || '—'}</td>
              <td>
                <span className={`badge tone-${phaseTone(m.phase)}`}>{m.phase}</span>
                {m.deleting && <span className="badge tone-warn">{t('provisioning.cluster.deleting')}</span>}
              </td>
              <td className="mono small">{m.node || '—'}</td>
              <td className="mono small">{m.version || '—'}</td>
              <td>{m.draining ? <span className="badge tone-warn" title={m.message}>{t('provisioning.cluster.draining')}</span> : '—'}</td>
              <td className="small">{m.reason && !m.draining ? <span title={m.message}>{m.reason}{m.message ? `: ${m.message}` : ''}</span> : m.draining && m.message ? <span className="muted">{m.message}</span> : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
