/**
 * What a revision changed (issue 22): objects added, changed and removed since the revision
 * before, and for a changed ConfigMap or Secret whether the workloads that use it were restarted
 * by this revision. A config-only upgrade rolls nothing (the pods keep the old environment), so
 * those workloads get the Config tab's restart (`config.edit`): the object is saved again as it
 * is, with `restart: true`.
 */
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import type { ApiError } from '../api/errors';
import { configApi } from '../config/api';
import type { ConfigSaved } from '../config/types';
import { useRevision } from './queries';
import type { ReleaseDetail } from './types';
import { apiErrorText } from '../lib/messages';

type Change = { object: string; change: 'added' | 'changed' | 'removed'; users?: { workload: string; restarted: boolean }[] };

function RestartUsers({ serviceMapId, object }: { serviceMapId: number; object: string }) {
  const { t } = useTranslation();
  const [kind, name] = object.split('/', 2) as [string, string];
  const restart = useMutation<ConfigSaved, ApiError, void>({
    mutationFn: async () => {
      const current = await configApi.get(serviceMapId, kind, name, false);
      return configApi.update(serviceMapId, kind, name, { data: current.data as Record<string, string | null>, restart: true, message: t('catalog.changes.restartMessage') });
    },
  });
  if (restart.isSuccess) {
    return (
      <p className="small ok-text" role="status" data-testid={`restarted-${object}`}>
        {t('catalog.changes.restartedNow', { workloads: restart.data.restarted.join(', ') || '—' })}
      </p>
    );
  }
  return (
    <>
      <button type="button" className="btn btn-small" data-testid={`restart-users-${object}`} disabled={restart.isPending} onClick={() => restart.mutate()}>
        {restart.isPending ? t('common.saving') : t('catalog.changes.restart')}
      </button>
      {restart.error && (
        <p className="alert alert-error" role="alert">
          {apiErrorText(t, restart.error)}
        </p>
      )}
    </>
  );
}

export function RevisionChanges({ release, number, canRestart }: { release: ReleaseDetail; number: number; canRestart: boolean }) {
  const { t } = useTranslation();
  const revision = useRevision(release.id, number);
  const changes = (revision.data as { changes?: Change[] } | undefined)?.changes;
  if (!changes || number <= 1) return null;
  return (
    <section className="card" data-testid="revision-changes" data-revision={number}>
      <h2 className="card-title">{t('catalog.changes.title', { number })}</h2>
      {changes.length === 0 ? (
        <p className="muted small">{t('catalog.changes.none')}</p>
      ) : (
        <ul className="plain-list">
          {changes.map((c) => {
            const stale = (c.users ?? []).filter((u) => !u.restarted);
            return (
              <li key={c.object} data-testid={`change-${c.object}`} data-change={c.change}>
                <span className="mono">{c.object}</span> <span className="badge tone-neutral">{t(`catalog.changes.${c.change}`)}</span>
                {c.users && c.users.length === 0 && <div className="small muted">{t('catalog.changes.noUsers')}</div>}
                {(c.users ?? []).map((u) => (
                  <div key={u.workload} className={`small ${u.restarted ? 'ok-text' : 'warn-text'}`} data-testid={`user-${u.workload}`} data-restarted={String(u.restarted)}>
                    <span className="mono">{u.workload}</span>: {u.restarted ? t('catalog.changes.restarted') : t('catalog.changes.notRestarted')}
                  </div>
                ))}
                {stale.length > 0 && canRestart && <RestartUsers serviceMapId={release.service_map.id} object={c.object} />}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
