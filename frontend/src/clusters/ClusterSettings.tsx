/** Admin actions on one cluster: edit metadata, replace credentials, disable/enable, delete. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router-dom';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { apiErrorText } from '../lib/messages';
import { TypeToConfirmDialog } from '../components/TypeToConfirmDialog';
import {
  ConnectionFields,
  EMPTY_CONNECTION,
  MetadataFields,
  connectionBody,
  connectionComplete,
  metadataBody,
  type ConnectionDraft,
  type MetadataDraft,
} from './forms';
import { useDeleteCluster, usePatchCluster, useReplaceCredentials } from './queries';
import type { Cluster } from './types';
import { DialogActions } from '../components/DialogActions';

function EditDialog({ cluster, onClose }: { cluster: Cluster; onClose: () => void }) {
  const { t } = useTranslation();
  const patch = usePatchCluster(cluster.id);
  const [draft, setDraft] = useState<MetadataDraft>({
    name: cluster.name,
    display_name: cluster.display_name,
    description: cluster.description,
    provider: cluster.provider,
    region: cluster.region,
    stage: cluster.stage,
    labels: Object.entries(cluster.labels ?? {}).map(([key, value]) => ({ key, value })),
  });
  const [namespaces, setNamespaces] = useState((cluster.namespaces ?? []).join(', '));
  const namespaceList = namespaces.split(/[\s,]+/).filter(Boolean);
  const namespacesChanged = namespaceList.join(',') !== (cluster.namespaces ?? []).join(',');
  const errors = patch.error?.fieldErrors ?? {};
  return (
    <Dialog
      title={t('clusters.settings.editTitle', { name: cluster.name })}
      onClose={onClose}
      testId="edit-cluster-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={patch.isPending}
          testId="edit-cluster-save"
          onSubmit={() =>
            patch.mutate({ ...metadataBody(draft), ...(namespacesChanged ? { namespaces: namespaceList } : {}) }, { onSuccess: onClose })
          }
        />
      }
    >
      {patch.error && (
        <p className="alert alert-error" role="alert">
          {apiErrorText(t, patch.error)}
        </p>
      )}
      <MetadataFields value={draft} onChange={setDraft} errors={errors} nameEditable={false} />
      <FormField
        label={t('clusters.field.namespaces')}
        errors={Object.entries(errors).flatMap(([f, messages]) => (f === 'namespaces' || f.startsWith('namespaces.') ? (messages ?? []) : []))}
      >
        <input
          name="namespaces"
          autoComplete="off"
          spellCheck={false}
          value={namespaces}
          placeholder="team-a, team-b"
          data-testid="edit-namespaces"
          onChange={(e) => setNamespaces(e.target.value)}
        />
      </FormField>
      <p className="small muted">{t('clusters.wizard.namespacesHint')}</p>
    </Dialog>
  );
}

function CredentialsDialog({ cluster, onClose }: { cluster: Cluster; onClose: () => void }) {
  const { t } = useTranslation();
  const replace = useReplaceCredentials(cluster.id);
  const [draft, setDraft] = useState<ConnectionDraft>(EMPTY_CONNECTION);
  return (
    <Dialog
      title={t('clusters.settings.credentialsTitle', { name: cluster.name })}
      onClose={onClose}
      testId="credentials-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          pending={replace.isPending}
          disabled={!connectionComplete(draft)}
          label={t('clusters.settings.replace')}
          testId="credentials-save"
          onSubmit={() => replace.mutate(connectionBody(draft), { onSuccess: onClose })}
        />
      }
    >
      <p className="muted small">{t('clusters.settings.credentialsHint')}</p>
      {replace.error && (
        <p className="alert alert-error" role="alert">
          {apiErrorText(t, replace.error)}
        </p>
      )}
      <ConnectionFields value={draft} onChange={setDraft} errors={replace.error?.fieldErrors ?? {}} />
    </Dialog>
  );
}

export function ClusterSettings({ cluster }: { cluster: Cluster }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [open, setOpen] = useState<'edit' | 'credentials' | 'delete' | null>(null);
  const patch = usePatchCluster(cluster.id);
  const remove = useDeleteCluster(cluster.id);
  return (
    <>
      <button type="button" className="btn btn-small" data-testid="edit-cluster" onClick={() => setOpen('edit')}>
        {t('clusters.settings.edit')}
      </button>
      <button type="button" className="btn btn-small" data-testid="replace-credentials" onClick={() => setOpen('credentials')}>
        {t('clusters.settings.credentials')}
      </button>
      <button
        type="button"
        className="btn btn-small"
        data-testid="toggle-enabled"
        disabled={patch.isPending}
        onClick={() => patch.mutate({ enabled: !cluster.enabled })}
      >
        {cluster.enabled ? t('clusters.settings.disable') : t('clusters.settings.enable')}
      </button>
      <button type="button" className="btn btn-small btn-danger-outline" data-testid="delete-cluster" onClick={() => setOpen('delete')}>
        {t('clusters.settings.delete')}
      </button>
      {patch.error && !open && (
        <span className="bad-text small" role="alert">
          {apiErrorText(t, patch.error)}
        </span>
      )}
      {open === 'edit' && <EditDialog cluster={cluster} onClose={() => setOpen(null)} />}
      {open === 'credentials' && <CredentialsDialog cluster={cluster} onClose={() => setOpen(null)} />}
      {open === 'delete' && (
        <TypeToConfirmDialog
          title={t('clusters.settings.deleteTitle')}
          message={t('clusters.settings.deleteConfirm', { name: cluster.name })}
          expected={cluster.name}
          confirmLabel={t('clusters.settings.delete')}
          busyLabel={t('clusters.working')}
          busy={remove.isPending}
          error={remove.error}
          onCancel={() => setOpen(null)}
          onConfirm={() => remove.mutate(undefined, { onSuccess: () => void navigate('/clusters', { replace: true }) })}
        />
      )}
    </>
  );
}
