/**
 * /registries/:id/repositories/<repository>: the repository's tags with digests, sizes,
 * platforms, creation times and scan summaries; a tag's findings in a drawer; delete a tag
 * (confirm; only where the registry allows it and the caller may); "Deploy this image".
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { CopyButton } from './common';
import { DeployImageDialog } from './DeployImageDialog';
import { FindingsDrawer } from './FindingsDrawer';
import { shortDigest } from './format';
import { useImagePermissions } from './permissions';
import { useDeleteTag, useRegistry, useTags } from './queries';
import { TagsTable } from './TagsTable';
import type { Tag } from './types';

export function RepositoryPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = Number(params.id);
  const repository = (params['*'] ?? '').replace(/\/+$/, '');
  const { registry } = useRegistry(id);
  const tags = useTags(id, repository);
  const can = useImagePermissions(registry, repository);
  const remove = useDeleteTag();
  const [findings, setFindings] = useState<Tag | null>(null);
  const [deleting, setDeleting] = useState<Tag | null>(null);
  const [deploying, setDeploying] = useState<Tag | null>(null);
  const image = tags.data?.image ?? (registry ? `${registry.host}/${repository}` : repository);
  const rows = tags.data?.results ?? [];
  const closeDelete = () => {
    remove.reset();
    setDeleting(null);
  };
  return (
    <section className="page page-wide" data-testid="repository-page">
      <p className="muted small breadcrumbs">
        <Link to="/registries">{t('registries.title')}</Link> / <Link to={`/registries/${id}`}>{registry?.name ?? id}</Link> / {repository}
      </p>
      <header className="page-header page-header-row">
        <div>
          <h1 className="mono wrap-any">{repository}</h1>
          <p className="muted mono small">
            {image} <CopyButton text={image} label={t('registries.copyImage')} />
          </p>
          {registry && !registry.allow_delete && <p className="small muted">{t('registries.tags.deleteDisabled')}</p>}
        </div>
      </header>
      <section className="card">
        {tags.isPending && <Loading />}
        {tags.isError && <ErrorState error={tags.error} onRetry={() => void tags.refetch()} />}
        {tags.data && rows.length === 0 && <EmptyState title={t('registries.tags.empty')} testId="tags-empty" />}
        {rows.length > 0 && (
          <TagsTable
            image={image}
            tags={rows}
            canDelete={can.deleteTag}
            canDeploy={can.deployWorkspaces.length > 0}
            onFindings={setFindings}
            onDelete={setDeleting}
            onDeploy={setDeploying}
          />
        )}
        {tags.data?.truncated && <p className="small muted">{t('registries.tags.truncated')}</p>}
      </section>
      {findings && <FindingsDrawer registry={id} repository={repository} image={image} tag={findings} onClose={() => setFindings(null)} />}
      {deploying && (
        <DeployImageDialog registry={id} repository={repository} image={image} tag={deploying} workspaces={can.deployWorkspaces} onClose={() => setDeploying(null)} />
      )}
      {deleting && (
        <ConfirmDialog
          title={t('registries.tags.deleteTitle', { tag: deleting.tag })}
          message={t('registries.tags.deleteBody', { image: `${image}:${deleting.tag}`, digest: shortDigest(deleting.digest) })}
          confirmLabel={t('registries.tags.delete')}
          busyLabel={t('common.saving')}
          busy={remove.isPending}
          error={remove.error}
          submitTestId="confirm-delete-tag"
          onConfirm={() => remove.mutate({ id, repository, tag: deleting.tag }, { onSuccess: closeDelete })}
          onCancel={closeDelete}
        />
      )}
    </section>
  );
}
