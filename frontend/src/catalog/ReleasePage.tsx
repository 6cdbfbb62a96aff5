/**
 * /releases/:id — one release: header (status, revision, deployed revision, message), the live
 * per-object progress of the current revision (`revision.updated` on `workspace.<id>`), the
 * history of revisions with a diff between any two and a rollback per revision
 * (`workloads.rollback`), upgrade with a version and values (`workloads.deploy`), drift (asks the
 * cluster), delete with type-to-confirm (`objects.delete`). 403/409 answers show as they come.
 * Deleting shows 삭제 중 until `release.deleted` (or a 404 once it was deleting, or a second delete
 * that finds it gone) sends the user to the list with a notice.
 */
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { apiErrorText, messageText } from '../lib/messages';
import { Dialog } from '../components/Dialog';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { TypeToConfirmDialog } from '../components/TypeToConfirmDialog';
import { relativeTime, useNow } from '../clusters/format';
import { NotFound } from '../pages/NotFound';
import { useWorkspace, useWorkspaceAccess } from '../workspaces/queries';
import { CatalogBadge, DiffView, isRecord } from './common';
import { useCatalogLive } from './live';
import { ArchiveStatus } from './ArchiveStatus';
import { useDeleteRelease, useDiff, useDrift, usePackage, useRelease, useReleaseDeleted, useRollback, useUpgrade, useVersion } from './queries';
import type { ReleaseDetail, Revision, Values } from './types';
import { ValuesForm } from './ValuesForm';
import { RevisionChanges } from './RevisionChanges';
import { StrategyPanel } from './strategy/StrategyPanel';
import { StrategySelector, strategyBody } from './strategy/StrategySelector';
import { asStrategy, type Strategy } from './strategy/types';
import { DialogActions } from '../components/DialogActions';

function ActionError({ error, testId }: { error: ApiError | null; testId: string }) {
  const { t } = useTranslation();
  if (!error) return null;
  return (
    <p className="alert alert-error" role="alert" data-testid={testId} data-status={error.status}>
      {[apiErrorText(t, error), ...Object.entries(error.fieldErrors).map(([k, m]) => `${k}: ${m.join(' ')}`)].join(' · ')}
    </p>
  );
}

function ProgressTable({ revision }: { revision: Revision }) {
  const { t } = useTranslation();
  const entries = Object.entries(revision.progress ?? {});
  return (
    <section className="card" data-testid="release-progress" data-revision={revision.number} data-status={revision.status}>
      <h2 className="card-title">
        {t('catalog.release.progress', { number: revision.number })} <CatalogBadge state={revision.status} testId="progress-status" />
      </h2>
      {revision.message && <p className="small muted" data-testid="progress-message">{messageText(t, revision)}</p>}
      {entries.length === 0 ? (
        <p className="muted small">{t('catalog.release.noProgress')}</p>
      ) : (
        <table className="table table-dense">
          <thead>
            <tr>
              <th scope="col">{t('catalog.col.object')}</th>
              <th scope="col">{t('catalog.col.status')}</th>
              <th scope="col" className="num">{t('catalog.col.ready')}</th>
              <th scope="col">{t('catalog.col.message')}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([key, p]) => (
              <tr key={key} data-testid={`progress-${key}`} data-state={p.state ?? ''}>
                <td className="mono">{key}</td>
                <td>{p.state ? <CatalogBadge state={p.state} /> : '—'}</td>
                <td className="num">{p.desired ? `${p.ready ?? 0}/${p.desired}` : '—'}</td>
                <td className="small">{messageText(t, p)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function UpgradeDialog({ release, onClose }: { release: ReleaseDetail; onClose: () => void }) {
  const { t } = useTranslation();
  const pkg = usePackage(release.package.id);
  const [versionId, setVersionId] = useState(release.version.id);
  const version = useVersion(versionId);
  const [values, setValues] = useState<Values>(isRecord(release.values) ? release.values : {});
  const upgrade = useUpgrade(release.id);
  const [strategy, setStrategy] = useState<Strategy | null>(null); // null: keep the release's
  const errors = upgrade.error?.fieldErrors ?? {};
  return (
    <Dialog
      title={t('catalog.release.upgrade')}
      onClose={onClose}
      testId="upgrade-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={upgrade.isPending}
          label={t('catalog.release.upgradeSubmit')}
          testId="upgrade-submit"
          onSubmit={() =>
            upgrade.mutate({ ...(versionId !== release.version.id ? { package_version: versionId } : {}), values, ...(strategy ? { strategy: strategyBody(strategy) } : {}) }, { onSuccess: onClose })
          }
        />
      }
    >
      <div className="form-stack">
        {upgrade.error && !Object.keys(errors).some((k) => k.startsWith('values')) && <ActionError error={upgrade.error} testId="upgrade-error" />}
        <FormField label={t('catalog.col.version')} errors={errors.package_version ?? []}>
          <select name="package_version" data-testid="upgrade-version" value={String(versionId)} onChange={(e) => setVersionId(Number(e.target.value))}>
            {(pkg.data?.versions ?? [{ id: release.version.id, version: release.version.version, app_version: '', created: '' }]).map((v) => (
              <option key={v.id} value={String(v.id)}>
                {v.version}
              </option>
            ))}
          </select>
        </FormField>
        <StrategySelector value={strategy ?? asStrategy(release.strategy)} onChange={setStrategy} errors={errors} />
        {version.isPending && <Loading />}
        <ArchiveStatus version={version.data} />
        {version.data && <ValuesForm key={version.data.id} fields={version.data.form} values={values} onChange={setValues} errors={errors} defaultsYaml={version.data.values_yaml} />}
      </div>
    </Dialog>
  );
}

function History({ release, canRollback }: { release: ReleaseDetail; canRollback: boolean }) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  const numbers = release.revisions.map((r) => r.number);
  // The latest two revisions until the user picks others.
  const [picked, setPicked] = useState<{ from: number | null; to: number | null } | null>(null);
  const from = picked ? picked.from : (numbers[1] ?? null);
  const to = picked ? picked.to : (numbers[0] ?? null);
  const setFrom = (n: number) => setPicked({ from: n, to });
  const setTo = (n: number) => setPicked({ from, to: n });
  const diff = useDiff(release.id, from, to);
  const [confirm, setConfirm] = useState<number | null>(null);
  const rollback = useRollback(release.id);
  return (
    <section className="card" data-testid="release-history">
      <h2 className="card-title">{t('catalog.release.history')}</h2>
      <ActionError error={confirm === null ? rollback.error : null} testId="rollback-error" />
      <table className="table table-dense" data-testid="revisions-table">
        <thead>
          <tr>
            <th scope="col" className="num">#</th>
            <th scope="col">{t('catalog.col.action')}</th>
            <th scope="col">{t('catalog.col.version')}</th>
            <th scope="col">{t('catalog.col.status')}</th>
            <th scope="col">{t('catalog.col.created')}</th>
            <th scope="col">{t('catalog.col.by')}</th>
            <th scope="col" className="actions-col">
              <span className="visually-hidden">{t('catalog.sources.actions')}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {release.revisions.map((r) => (
            <tr key={r.number} data-testid={`revision-row-${r.number}`} data-status={r.status}>
              <td className="num">{r.number}</td>
              <td>
                {t(`catalog.action.${r.action}` as 'catalog.action.install', { defaultValue: r.action })}
                {r.rollback_of !== null && <span className="small muted"> ← {r.rollback_of}</span>}
              </td>
              <td className="mono small">{r.version}</td>
              <td>
                <CatalogBadge state={r.status} title={messageText(t, r)} testId="revision-status" />
              </td>
              <td className="small nowrap" title={r.created}>
                {relativeTime(r.created, now, i18n.language)}
              </td>
              <td className="small">{r.created_by ?? '—'}</td>
              <td>
                {canRollback && r.number !== release.revision && (
                  <button type="button" className="btn btn-small" data-testid={`rollback-${r.number}`} onClick={() => setConfirm(r.number)}>
                    {t('catalog.release.rollback')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {numbers.length > 1 && (
        <div data-testid="revision-diff-panel">
          <div className="diff-pickers">
            <FormField label={t('catalog.release.diffFrom')}>
              <select name="from" data-testid="diff-from" value={from ?? ''} onChange={(e) => setFrom(Number(e.target.value))}>
                {numbers.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </FormField>
            <FormField label={t('catalog.release.diffTo')}>
              <select name="to" data-testid="diff-to" value={to ?? ''} onChange={(e) => setTo(Number(e.target.value))}>
                {numbers.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </FormField>
          </div>
          {diff.isPending && from !== to && <Loading />}
          {diff.isError && <ErrorState error={diff.error} />}
          {from === to ? (
            <p className="muted small">{t('catalog.release.sameRevision')}</p>
          ) : (
            diff.data && <DiffView diff={diff.data.diff} testId="revision-diff" emptyText={t('catalog.plan.noDiff')} />
          )}
        </div>
      )}
      {confirm !== null && (
        <ConfirmDialog
          title={t('catalog.release.rollback')}
          message={t('catalog.release.rollbackBody', { name: release.name, number: confirm })}
          confirmLabel={t('catalog.release.rollback')}
          busyLabel={t('common.saving')}
          busy={rollback.isPending}
          error={rollback.error}
          submitTestId="confirm-rollback"
          onConfirm={() => rollback.mutate(confirm, { onSuccess: () => setConfirm(null) })}
          onCancel={() => {
            rollback.reset();
            setConfirm(null);
          }}
        />
      )}
    </section>
  );
}

function DriftPanel({ release }: { release: ReleaseDetail }) {
  const { t } = useTranslation();
  const [asked, setAsked] = useState(false);
  const drift = useDrift(release.id, asked);
  return (
    <section className="card" data-testid="drift-panel">
      <h2 className="card-title">{t('catalog.release.drift')}</h2>
      <p className="small muted">{t('catalog.release.driftHint')}</p>
      <button
        type="button"
        className="btn btn-small"
        data-testid="check-drift"
        disabled={drift.isFetching}
        onClick={() => (asked ? void drift.refetch() : setAsked(true))}
      >
        {drift.isFetching ? t('catalog.release.checking') : t('catalog.release.checkDrift')}
      </button>
      {drift.isError && <ErrorState error={drift.error} />}
      {drift.data && (
        <div data-testid="drift-result" data-checked={String(drift.data.checked)} data-drifted={String(drift.data.objects.length > 0)}>
          {drift.data.message && <p className="small">{messageText(t, drift.data)}</p>}
          {drift.data.checked && drift.data.objects.length === 0 && <p className="ok-text small">{t('catalog.release.noDrift')}</p>}
          {drift.data.objects.length > 0 && (
            <ul className="plain-list mono small">
              {drift.data.objects.map((o) => (
                <li key={o}>{o}</li>
              ))}
            </ul>
          )}
          {drift.data.diff && <DiffView diff={drift.data.diff} testId="drift-diff" />}
        </div>
      )}
    </section>
  );
}

export function ReleasePage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const release = useRelease(id);
  const workspace = useWorkspace(release.data?.workspace.id ?? NaN);
  const access = useWorkspaceAccess(workspace.data);
  useCatalogLive(release.data?.workspace.id ?? null);
  const [dialog, setDialog] = useState<'upgrade' | 'delete' | null>(null);
  const remove = useDeleteRelease(id);
  const navigate = useNavigate();
  const deletedLive = useReleaseDeleted(id);
  const known = useRef<{ name: string; deleting: boolean } | null>(null);
  if (release.data) known.current = { name: release.data.name, deleting: (known.current?.deleting ?? false) || release.data.status === 'deleting' };
  const notFound = release.error instanceof ApiError && release.error.status === 404;
  const alreadyGone = remove.error?.status === 404;
  const gone = known.current !== null && (deletedLive || alreadyGone || (notFound && known.current.deleting));
  useEffect(() => {
    if (!gone || !known.current) return;
    const notice = t(alreadyGone ? 'catalog.release.alreadyDeleted' : 'catalog.release.deletedNotice', { name: known.current.name });
    navigate('/releases', { replace: true, state: { notice } });
  }, [gone, alreadyGone, navigate, t]);
  if (gone) return <Loading />;
  if (!Number.isInteger(id) || notFound) return <NotFound />;
  const r = release.data;
  const current = r?.revisions.find((x) => x.number === r.revision);
  const deleting = r?.status === 'deleting';
  return (
    <section className="page page-wide" data-testid="release-page">
      <p className="muted small breadcrumbs">
        <Link to="/releases">{t('catalog.releases.title')}</Link> / {r?.name ?? id}
      </p>
      {release.isPending && <Loading />}
      {release.isError && <ErrorState error={release.error} onRetry={() => void release.refetch()} />}
      {r && (
        <section className="card cluster-header" data-testid="release-header" data-status={r.status} data-revision={r.revision} data-deployed-revision={r.deployed_revision}>
          <div className="cluster-title">
            <div>
              <h1>
                <span className="mono">{r.name}</span> <CatalogBadge state={r.status} testId="release-status" />
              </h1>
              <p className="muted small">
                <Link to={`/catalog/packages/${r.package.id}`}>{r.package.name}</Link> <span className="mono">{r.version.version}</span> ·{' '}
                <Link to={`/workspaces/${r.workspace.id}/servicemaps/${r.service_map.id}`}>
                  {r.service_map.cluster.name} / <span className="mono">{r.service_map.namespace}</span>
                </Link>{' '}
                · <Link to={`/workspaces/${r.workspace.id}`}>{r.workspace.name}</Link>
              </p>
            </div>
            {!deleting && (
              <div className="header-actions">
                {access.can('workloads.deploy') && (
                  <button type="button" className="btn btn-small" data-testid="upgrade-release" onClick={() => setDialog('upgrade')}>
                    {t('catalog.release.upgrade')}
                  </button>
                )}
                {access.can('objects.delete') && (
                  <button type="button" className="btn btn-small btn-danger-outline" data-testid="delete-release" onClick={() => setDialog('delete')}>
                    {t('catalog.release.delete')}
                  </button>
                )}
              </div>
            )}
          </div>
          {r.message && (
            <p className={r.status === 'failed' ? 'alert alert-error' : 'muted'} data-testid="release-message">
              {messageText(t, r)}
            </p>
          )}
          <dl className="facts">
            <div>
              <dt>{t('catalog.release.revision')}</dt>
              <dd data-testid="release-revision">{r.revision}</dd>
            </div>
            <div>
              <dt>{t('catalog.release.deployedRevision')}</dt>
              <dd data-testid="release-deployed-revision">{r.deployed_revision || '—'}</dd>
            </div>
            <div>
              <dt>{t('catalog.col.by')}</dt>
              <dd>{r.created_by ?? '—'}</dd>
            </div>
          </dl>
        </section>
      )}
      {current && <ProgressTable revision={current} />}
      {r && current && <RevisionChanges release={r} number={current.number} canRestart={access.can('config.edit') && !deleting} />}
      {r && <StrategyPanel release={r} canAct={access.can('workloads.rollback') && !deleting} />}
      {r && <History release={r} canRollback={access.can('workloads.rollback') && !deleting} />}
      {r && <DriftPanel release={r} />}
      {r && (
        <section className="card">
          <h2 className="card-title">{t('catalog.release.values')}</h2>
          <pre className="code-block" data-testid="release-values">
            {JSON.stringify(r.values ?? {}, null, 2)}
          </pre>
        </section>
      )}
      {r && dialog === 'upgrade' && <UpgradeDialog release={r} onClose={() => setDialog(null)} />}
      {r && dialog === 'delete' && (
        <TypeToConfirmDialog
          title={t('catalog.release.delete')}
          message={t('catalog.release.deleteBody', { name: r.name, namespace: r.service_map.namespace })}
          expected={r.name}
          confirmLabel={t('catalog.release.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() => remove.mutate(undefined, { onSuccess: () => setDialog(null) })}
          onCancel={() => setDialog(null)}
        />
      )}
    </section>
  );
}
