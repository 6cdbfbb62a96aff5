import { useTranslation } from 'react-i18next';
import { errorMessage } from '../../components/ErrorState';
import { Loading } from '../../components/Loading';
import { formatTime } from '../../lib/format';
import { useReadiness } from './health';

const KNOWN_CHECKS = ['database', 'redis', 'celery'] as const;
type KnownCheck = (typeof KNOWN_CHECKS)[number];
const isKnown = (name: string): name is KnownCheck => (KNOWN_CHECKS as readonly string[]).includes(name);

export function HealthCard() {
  const { t } = useTranslation();
  const readiness = useReadiness();
  const data = readiness.data;
  return (
    <section className="card" data-testid="health-card" aria-labelledby="health-title">
      <h2 id="health-title" className="card-title">
        {t('dashboard.health.title')}
      </h2>
      {readiness.isPending && <Loading />}
      {readiness.isError && (
        <div className="alert alert-error" role="alert">
          {t('dashboard.health.unreachable', { error: errorMessage(readiness.error) })}
        </div>
      )}
      {data && (
        <>
          <p className={data.status === 'ok' ? 'status-line ok' : 'status-line fail'} data-status={data.status}>
            {data.status === 'ok' ? t('dashboard.health.ok') : t('dashboard.health.fail')}
          </p>
          <ul className="checks">
            {Object.entries(data.checks).map(([name, check]) => (
              <li key={name} className={check.ok ? 'check ok' : 'check fail'} data-testid={`check-${name}`} data-ok={check.ok}>
                <span className="check-dot" aria-hidden="true" />
                <span className="check-name">{isKnown(name) ? t(`dashboard.health.${name}`) : name}</span>
                <span className="check-state">
                  {check.ok ? t('dashboard.health.checkOk') : t('dashboard.health.checkFail')}
                </span>
                {check.detail && <span className="check-detail">{check.detail}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
      {readiness.dataUpdatedAt > 0 && (
        <p className="muted small">{t('dashboard.health.refreshed', { time: formatTime(readiness.dataUpdatedAt) })}</p>
      )}
    </section>
  );
}
