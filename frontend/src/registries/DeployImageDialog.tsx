/**
 * "Deploy this image": sets a tag's image, pinned by digest, in a release's values and upgrades
 * the release through the normal release path (POST /api/builds/deploy-image/ → a new revision).
 * Releases offered are those of the workspaces where the caller holds `workloads.deploy`. A
 * refusal by the workspace's scan policy (400 `image_blocked_by_scan`) is shown with what blocks:
 * the server's problems (`errors.images`) and the scan's findings the policy does not except.
 * Where a build definition deploys to the chosen release, its image path and format are taken as
 * the starting values (the chart's layout is known there).
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { useReleases } from '../catalog/queries';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { FormField } from '../components/FormField';
import { apiErrorText } from '../lib/messages';
import { FormError } from '../workspaces/common';
import type { Workspace } from '../workspaces/types';
import { FindingsTable } from './FindingsDrawer';
import { blockingFindings, shortDigest } from './format';
import { useDefinitions, useDeployImage, usePolicy, useScan } from './queries';
import type { ImageFormat, Tag } from './types';

export const BLOCKED_CODE = 'image_blocked_by_scan';

/** What the deploy sets in the values, as the server's deploy step does (docs/image-policy.md). */
export function valuesPreview(path: string, format: ImageFormat, image: string, tag: string, digest: string): string[] {
  const p = path.trim() || 'image';
  if (format === 'reference') return [`${p}: ${image}:${tag}@${digest}`];
  return [`${p}.repository: ${image}`, `${p}.tag: ${tag}@${digest}`];
}

function Blocked({ error, registry, repository, digest, workspace }: { error: ApiError; registry: number; repository: string; digest: string; workspace: number | null }) {
  const { t } = useTranslation();
  const scan = useScan(registry, repository, digest);
  const policy = usePolicy(workspace);
  const problems = error.forField('images');
  const blocking =
    scan.data && policy.data ? blockingFindings(scan.data.findings, policy.data.block_severity, policy.data.exceptions, Date.now()) : [];
  return (
    <div className="alert alert-error" role="alert" data-testid="deploy-blocked">
      <div>
        <strong>{t('registries.deploy.blocked')}</strong>
        <div>{apiErrorText(t, error)}</div>
        {problems.length > 0 && (
          <ul className="blocked-list" data-testid="blocked-problems">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        {blocking.length > 0 && (
          <>
            <p className="small">{t('registries.deploy.blockingFindings', { count: blocking.length })}</p>
            <FindingsTable findings={blocking} testId="blocking-findings" />
          </>
        )}
        <p className="small">{t('registries.deploy.blockedHint')}</p>
      </div>
    </div>
  );
}

export function DeployImageDialog({
  registry,
  repository,
  image,
  tag,
  workspaces,
  onClose,
}: {
  registry: number;
  repository: string;
  image: string;
  tag: Tag;
  workspaces: Workspace[];
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const releases = useReleases({});
  const deploy = useDeployImage();
  const ids = new Set(workspaces.map((w) => w.id));
  const options = (releases.data?.results ?? []).filter((r) => ids.has(r.workspace.id));
  const [release, setRelease] = useState('');
  const [path, setPath] = useState('image');
  const [format, setFormat] = useState<ImageFormat>('split');
  const chosen = options.find((r) => String(r.id) === release);
  const definitions = useDefinitions(chosen?.workspace.id ?? null);
  const feeding = chosen ? definitions.data?.find((d) => d.deploy_release?.id === chosen.id) : undefined;
  const [edited, setEdited] = useState(false);
  useEffect(() => {
    if (!feeding || edited) return;
    setPath(feeding.deploy_image_path || 'image');
    setFormat(feeding.deploy_image_format === 'reference' ? 'reference' : 'split');
  }, [feeding, edited]);
  const error = deploy.error;
  const blocked = error instanceof ApiError && error.code === BLOCKED_CODE;
  const done = deploy.data;
  return (
    <Dialog
      title={t('registries.deploy.title', { image: `${image}:${tag.tag}` })}
      onClose={onClose}
      testId="deploy-image-dialog"
      footer={
        done ? (
          <button type="button" className="btn btn-primary" onClick={onClose}>
            {t('common.close')}
          </button>
        ) : (
          <DialogActions
            onCancel={onClose}
            pending={deploy.isPending}
            disabled={!chosen}
            label={t('registries.deploy.submit')}
            testId="deploy-image-submit"
            form="deploy-image-form"
          />
        )
      }
    >
      {done ? (
        <p className="alert alert-success" role="status" data-testid="deploy-image-done">
          <span>
            {t('registries.deploy.done', { revision: done.revision, release: done.release.name })}{' '}
            <Link to={`/releases/${done.release.id}`} data-testid="deploy-image-release-link">
              {t('registries.deploy.openRelease')}
            </Link>
          </span>
        </p>
      ) : (
        <form
          id="deploy-image-form"
          className="form-stack"
          onSubmit={(e) => {
            e.preventDefault();
            if (!chosen) return;
            deploy.mutate({
              registry,
              repository,
              digest: tag.digest,
              tag: tag.tag,
              release: chosen.id,
              image_path: path.trim() || 'image',
              image_format: format,
            });
          }}
        >
          <p className="small muted mono">
            {image}:{tag.tag} · {shortDigest(tag.digest)}
          </p>
          {blocked && error ? (
            <Blocked error={error} registry={registry} repository={repository} digest={tag.digest} workspace={chosen?.workspace.id ?? null} />
          ) : (
            <FormError error={error} fields={['release', 'image_path', 'image_format']} testId="deploy-image-error" />
          )}
          <FormField label={t('registries.deploy.release')} errors={blocked ? [] : (error?.forField('release') ?? [])}>
            <select name="release" data-testid="deploy-release" value={release} onChange={(e) => setRelease(e.target.value)}>
              <option value="">{releases.isPending ? t('app.loading') : t('registries.deploy.chooseRelease')}</option>
              {options.map((r) => (
                <option key={r.id} value={String(r.id)}>
                  {`${r.workspace.name} / ${r.name} (${r.service_map.namespace})`}
                </option>
              ))}
            </select>
          </FormField>
          {releases.data && options.length === 0 && (
            <p className="small muted" data-testid="deploy-no-releases">
              {t('registries.deploy.noReleases')}
            </p>
          )}
          <FormField label={t('registries.deploy.path')} errors={error?.forField('image_path') ?? []}>
            <input
              name="image_path"
              className="mono"
              autoComplete="off"
              value={path}
              onChange={(e) => {
                setEdited(true);
                setPath(e.target.value);
              }}
            />
          </FormField>
          {feeding && (
            <p className="small muted" data-testid="deploy-from-definition">
              {t('registries.deploy.fromDefinition', { name: feeding.name })}
            </p>
          )}
          <fieldset className="radio-group">
            <legend>{t('registries.deploy.format')}</legend>
            {(['split', 'reference'] as const).map((f) => (
              <label key={f} className="radio">
                <input
                  type="radio"
                  name="image_format"
                  value={f}
                  checked={format === f}
                  onChange={() => {
                    setEdited(true);
                    setFormat(f);
                  }}
                />
                {t(`registries.deploy.formats.${f}`)}
              </label>
            ))}
          </fieldset>
          <pre className="code-block" data-testid="deploy-preview">
            {valuesPreview(path, format, image, tag.tag, tag.digest).join('\n')}
          </pre>
          <p className="small muted">{t('registries.deploy.hint')}</p>
        </form>
      )}
    </Dialog>
  );
}
