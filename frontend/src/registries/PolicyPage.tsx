/**
 * /registries/policy: a workspace's image scan policy. Block deploys of images with a finding at
 * or above a severity (or never), block images never scanned, and named exceptions (a CVE id,
 * why, until when). Every member reads their workspace's policy; admins and those who manage its
 * members change it (`permissions.change`), everyone else sees it read-only.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { formatDateTime } from '../lib/format';
import { apiErrorText } from '../lib/messages';
import { FormError } from '../workspaces/common';
import { useWorkspaces } from '../workspaces/queries';
import { SeverityChip } from './common';
import { SEVERITIES } from './format';
import { useAddException, usePolicy, usePutPolicy, useRemoveException } from './queries';
import type { ScanPolicy, Severity } from './types';

/** A date input's day (`2026-12-31`) as the end of that day in the user's time zone, ISO. */
export function endOfDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y ?? 0, (m ?? 1) - 1, d ?? 1, 23, 59, 59).toISOString();
}

function SettingsForm({ policy, workspace }: { policy: ScanPolicy; workspace: number }) {
  const { t } = useTranslation();
  const put = usePutPolicy(workspace);
  const readOnly = !policy.permissions.change;
  const [block, setBlock] = useState<'' | Severity>(policy.block_severity);
  const [requireScan, setRequireScan] = useState(policy.require_scan);
  useEffect(() => {
    setBlock(policy.block_severity);
    setRequireScan(policy.require_scan);
  }, [policy.block_severity, policy.require_scan]);
  const changed = block !== policy.block_severity || requireScan !== policy.require_scan;
  return (
    <form
      className="form-stack"
      data-testid="policy-form"
      onSubmit={(e) => {
        e.preventDefault();
        put.mutate({ block_severity: block, require_scan: requireScan });
      }}
    >
      <FormError error={put.error} fields={['block_severity', 'require_scan']} testId="policy-error" />
      <FormField label={t('registries.policy.block')} errors={put.error?.forField('block_severity') ?? []}>
        <select name="block_severity" data-testid="policy-block" disabled={readOnly} value={block} onChange={(e) => setBlock(e.target.value as '' | Severity)}>
          <option value="">{t('registries.policy.never')}</option>
          {[...SEVERITIES].reverse().map((s) => (
            <option key={s} value={s}>
              {t('registries.policy.atOrAbove', { severity: t(`registries.severity.${s}`) })}
            </option>
          ))}
        </select>
      </FormField>
      <label className="checkbox">
        <input type="checkbox" name="require_scan" data-testid="policy-require-scan" disabled={readOnly} checked={requireScan} onChange={(e) => setRequireScan(e.target.checked)} />
        {t('registries.policy.requireScan')}
      </label>
      <p className="small muted">{t('registries.policy.hint')}</p>
      {!readOnly && (
        <div>
          <button type="submit" className="btn btn-primary" data-testid="policy-save" disabled={!changed || put.isPending}>
            {put.isPending ? t('common.saving') : t('common.save')}
          </button>
          {put.isSuccess && !changed && (
            <span className="small ok-text" role="status">
              {' '}
              {t('registries.policy.saved')}
            </span>
          )}
        </div>
      )}
    </form>
  );
}

function Exceptions({ policy, workspace }: { policy: ScanPolicy; workspace: number }) {
  const { t } = useTranslation();
  const add = useAddException(workspace);
  const remove = useRemoveException(workspace);
  const readOnly = !policy.permissions.change;
  const [form, setForm] = useState({ vulnerability: '', reason: '', expires: '' });
  const set = (patch: Partial<typeof form>) => setForm((f) => ({ ...f, ...patch }));
  const now = Date.now();
  return (
    <section className="card" data-testid="policy-exceptions">
      <h2 className="card-title">{t('registries.policy.exceptions')}</h2>
      <p className="small muted">{t('registries.policy.exceptionsHint')}</p>
      {policy.exceptions.length === 0 ? (
        <p className="muted empty-line" data-testid="exceptions-empty">
          {t('registries.policy.noExceptions')}
        </p>
      ) : (
        <table className="table table-dense" data-testid="exceptions-table">
          <thead>
            <tr>
              <th scope="col">{t('registries.policy.vulnerability')}</th>
              <th scope="col">{t('registries.policy.reason')}</th>
              <th scope="col">{t('registries.policy.expires')}</th>
              <th scope="col">{t('registries.policy.createdBy')}</th>
              {!readOnly && (
                <th scope="col" className="actions-col">
                  <span className="visually-hidden">{t('registries.actions')}</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {policy.exceptions.map((x) => {
              const expired = x.expired === true || Date.parse(x.expires) <= now;
              return (
                <tr key={x.id} data-testid={`exception-${x.vulnerability}`} className={expired ? 'row-disabled' : undefined}>
                  <td className="mono">{x.vulnerability}</td>
                  <td>{x.reason}</td>
                  <td className="nowrap">
                    {formatDateTime(x.expires)}
                    {expired && <span className="badge tone-neutral"> {t('registries.policy.expired')}</span>}
                  </td>
                  <td>{x.created_by ?? '—'}</td>
                  {!readOnly && (
                    <td>
                      <button
                        type="button"
                        className="btn btn-small btn-danger-outline"
                        data-testid={`remove-exception-${x.vulnerability}`}
                        disabled={remove.isPending}
                        onClick={() => remove.mutate(x.id)}
                      >
                        {t('registries.policy.removeException')}
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {remove.error && (
        <p className="alert alert-error" role="alert">
          {apiErrorText(t, remove.error)}
        </p>
      )}
      {!readOnly && (
        <form
          className="form-stack"
          data-testid="exception-form"
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate(
              { vulnerability: form.vulnerability.trim(), reason: form.reason.trim(), expires: endOfDay(form.expires) },
              { onSuccess: () => setForm({ vulnerability: '', reason: '', expires: '' }) },
            );
          }}
        >
          <h3 className="card-title">{t('registries.policy.addException')}</h3>
          <FormError error={add.error} fields={['vulnerability', 'reason', 'expires']} testId="exception-error" />
          <div className="form-grid">
            <FormField label={t('registries.policy.vulnerability')} errors={add.error?.forField('vulnerability') ?? []}>
              <input
                name="vulnerability"
                className="mono"
                autoComplete="off"
                placeholder="CVE-2024-0001"
                value={form.vulnerability}
                onChange={(e) => set({ vulnerability: e.target.value })}
              />
            </FormField>
            <FormField label={t('registries.policy.expires')} errors={add.error?.forField('expires') ?? []}>
              <input name="expires" type="date" value={form.expires} onChange={(e) => set({ expires: e.target.value })} />
            </FormField>
          </div>
          <FormField label={t('registries.policy.reason')} errors={add.error?.forField('reason') ?? []}>
            <input name="reason" autoComplete="off" value={form.reason} onChange={(e) => set({ reason: e.target.value })} />
          </FormField>
          <div>
            <button
              type="submit"
              className="btn btn-primary"
              data-testid="exception-submit"
              disabled={add.isPending || !form.vulnerability.trim() || !form.reason.trim() || !form.expires}
            >
              {add.isPending ? t('common.saving') : t('registries.policy.addExceptionSubmit')}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

export function PolicyPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const workspaces = useWorkspaces({ page_size: 500 });
  const list = workspaces.data?.results ?? [];
  const fromUrl = Number(params.get('workspace'));
  const workspace = list.some((w) => w.id === fromUrl) ? fromUrl : (list[0]?.id ?? null);
  const policy = usePolicy(workspace);
  return (
    <section className="page" data-testid="policy-page">
      <p className="muted small breadcrumbs">
        <Link to="/registries">{t('registries.title')}</Link> / {t('registries.policy.title')}
      </p>
      <header className="page-header">
        <h1>{t('registries.policy.title')}</h1>
        <p className="muted">{t('registries.policy.intro')}</p>
      </header>
      {workspaces.isPending && <Loading />}
      {workspaces.isError && <ErrorState error={workspaces.error} onRetry={() => void workspaces.refetch()} />}
      {workspaces.data && list.length === 0 && <p className="muted">{t('registries.policy.noWorkspaces')}</p>}
      {list.length > 0 && (
        <div className="filters">
          <label htmlFor="policy-workspace">{t('registries.policy.workspace')}</label>
          <select
            id="policy-workspace"
            data-testid="policy-workspace"
            value={workspace ?? ''}
            onChange={(e) => setParams({ workspace: e.target.value }, { replace: true })}
          >
            {list.map((w) => (
              <option key={w.id} value={String(w.id)}>
                {w.display_name ? `${w.display_name} (${w.name})` : w.name}
              </option>
            ))}
          </select>
        </div>
      )}
      {policy.isPending && workspace !== null && <Loading />}
      {policy.isError && <ErrorState error={policy.error} onRetry={() => void policy.refetch()} />}
      {policy.data && workspace !== null && (
        <>
          <section className="card" data-testid="policy-settings" data-readonly={!policy.data.permissions.change}>
            {!policy.data.permissions.change && (
              <p className="small muted" data-testid="policy-readonly">
                {t('registries.policy.readOnly')}
              </p>
            )}
            <p>
              {policy.data.block_severity ? (
                <>
                  {t('registries.policy.blocksNow')} <SeverityChip severity={policy.data.block_severity} />
                </>
              ) : (
                <span className="muted">{t('registries.policy.blocksNothing')}</span>
              )}
            </p>
            <SettingsForm key={workspace} policy={policy.data} workspace={workspace} />
            {policy.data.updated && <p className="small muted">{t('registries.policy.updated', { when: formatDateTime(policy.data.updated) ?? '' })}</p>}
          </section>
          <Exceptions key={`x-${workspace}`} policy={policy.data} workspace={workspace} />
        </>
      )}
    </section>
  );
}
