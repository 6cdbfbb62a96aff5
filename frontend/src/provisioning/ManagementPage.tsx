/**
 * /provisioning/management — management clusters: registered clusters an admin marked to run
 * Cluster API, with the result of the portal's check (Cluster API versions, control-plane and
 * infrastructure providers). Admins mark one, check it again and unmark it.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { useClusters } from '../clusters/queries';
import { apiErrorText, messageText } from '../lib/messages';
import { CheckBadge, SectionTabs, When } from './common';
import { useProvisioningLive } from './live';
import { useCheckManagement, useManagementClusters, useMarkManagement, useProvisioningAccess, useUnmarkManagement } from './queries';
import type { ManagementCluster } from './types';

function MarkDialog({ taken, onClose }: { taken: Set<number>; onClose: () => void }) {
  const { t } = useTranslation();
  const clusters = useClusters({ page_size: 200 });
  const mark = useMarkManagement();
  const [cluster, setCluster] = useState('');
  const [namespace, setNamespace] = useState('');
  const choices = (clusters.data?.results ?? []).filter((c) => !taken.has(c.id));
  const errors = mark.error?.fieldErrors ?? {};
  return (
    <Dialog
      title={t('provisioning.management.markTitle')}
      onClose={onClose}
      testId="mark-management-dialog"
      footer={<DialogActions onCancel={onClose} pending={mark.isPending} disabled={!cluster} label={t('provisioning.management.submit')} testId="mark-management-submit" form="mark-management-form" />}
    >
      <form
        id="mark-management-form"
        className="form-stack"
        onSubmit={(e) => {
          e.preventDefault();
          if (!cluster) return;
          mark.mutate({ cluster: Number(cluster), ...(namespace.trim() ? { namespace: namespace.trim() } : {}) }, { onSuccess: onClose });
        }}
      >
        <p className="small muted">{t('provisioning.management.markHelp')}</p>
        <FormField label={t('provisioning.management.cluster')} errors={errors.cluster}>
          <select name="cluster" data-testid="mark-management-cluster" value={cluster} onChange={(e) => setCluster(e.target.value)}>
            <option value="">{t('provisioning.management.chooseCluster')}</option>
            {choices.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('provisioning.management.namespace')} errors={errors.namespace}>
          <input name="namespace" className="mono" placeholder="portal-provisioning" autoComplete="off" value={namespace} onChange={(e) => setNamespace(e.target.value)} />
        </FormField>
        {mark.error && !errors.cluster && !errors.namespace && (
          <p className="alert alert-error" role="alert">
            {apiErrorText(t, mark.error)}
          </p>
        )}
      </form>
    </Dialog>
  );
}

function Row({ m, isAdmin }: { m: ManagementCluster; isAdmin: boolean }) {
  const { t } = useTranslation();
  const check = useCheckManagement();
  const unmark = useUnmarkManagement();
  const [confirm, setConfirm] = useState(false);
  const versions = Object.values(m.capi_versions ?? {}).map(String).filter(Boolean);
  return (
    <tr data-testid={`management-${m.cluster_name}`} data-status={m.status}>
      <th scope="row">
        <Link to={`/clusters/${m.cluster}`}>{m.cluster_name}</Link>
      </th>
      <td className="mono small">{m.namespace}</td>
      <td>
        <CheckBadge status={m.status} />
        {versions.length > 0 && <div className="small muted">{t('provisioning.management.capi', { versions: versions.join(', ') })}</div>}
      </td>
      <td className="small" data-testid="management-providers">
        {[...m.control_plane_providers, ...m.infrastructure_providers].join(', ') || t('provisioning.management.none')}
      </td>
      <td className="small">
        <When iso={m.checked} />
      </td>
      <td className="small">{messageText(t, m) || '—'}</td>
      {isAdmin && (
        <td className="nowrap">
          <button type="button" className="btn btn-small" data-testid={`check-${m.cluster_name}`} disabled={check.isPending} onClick={() => check.mutate(m.id)}>
            {t('provisioning.management.check')}
          </button>{' '}
          <button type="button" className="btn btn-small btn-danger-outline" data-testid={`unmark-${m.cluster_name}`} onClick={() => setConfirm(true)}>
            {t('provisioning.management.unmark')}
          </button>
          {check.error && (
            <p className="small bad-text" role="alert">
              {apiErrorText(t, check.error)}
            </p>
          )}
          {confirm && (
            <ConfirmDialog
              title={t('provisioning.management.unmarkTitle', { name: m.cluster_name })}
              message={t('provisioning.management.unmarkMessage', { name: m.cluster_name })}
              confirmLabel={t('provisioning.management.unmark')}
              busyLabel={t('provisioning.management.unmark')}
              busy={unmark.isPending}
              error={unmark.error}
              submitTestId="unmark-submit"
              onConfirm={() => unmark.mutate(m.id, { onSuccess: () => setConfirm(false) })}
              onCancel={() => setConfirm(false)}
            />
          )}
        </td>
      )}
    </tr>
  );
}

export function ManagementPage() {
  const { t } = useTranslation();
  const access = useProvisioningAccess();
  const list = useManagementClusters();
  const [marking, setMarking] = useState(false);
  useProvisioningLive();
  const rows = list.data ?? [];
  return (
    <section className="page page-wide" data-testid="management-page">
      <header className="page-header page-header-row">
        <h1>{t('provisioning.sections.management')}</h1>
        {access.isAdmin && (
          <button type="button" className="btn btn-primary" data-testid="mark-management" onClick={() => setMarking(true)}>
            {t('provisioning.management.mark')}
          </button>
        )}
      </header>
      <SectionTabs />
      {list.isPending && <Loading />}
      {list.isError && <ErrorState error={list.error} onRetry={() => void list.refetch()} />}
      {list.data && rows.length === 0 && <EmptyState title={t('provisioning.management.empty')} testId="management-empty" />}
      {rows.length > 0 && (
        <div className="card table-scroll">
          <table className="table" data-testid="management-table">
            <caption className="visually-hidden">{t('provisioning.sections.management')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('provisioning.col.cluster')}</th>
                <th scope="col">{t('provisioning.col.namespace')}</th>
                <th scope="col">{t('provisioning.col.status')}</th>
                <th scope="col">{t('provisioning.col.providers')}</th>
                <th scope="col">{t('provisioning.col.checked')}</th>
                <th scope="col">{t('provisioning.col.message')}</th>
                {access.isAdmin && <th scope="col">{t('provisioning.col.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <Row key={m.id} m={m} isAdmin={access.isAdmin} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {marking && <MarkDialog taken={new Set(rows.map((m) => m.cluster))} onClose={() => setMarking(false)} />}
    </section>
  );
}
