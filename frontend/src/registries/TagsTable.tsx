/**
 * A repository's tags: tag, digest (short, with copy), size in binary units, platforms, creation
 * time, the scan summary by severity (opens the findings), and the row's actions.
 */
import { useTranslation } from 'react-i18next';
import { formatDateTime } from '../lib/format';
import { CopyButton, ScanChips } from './common';
import { imageSize, platformText, shortDigest } from './format';
import type { Tag } from './types';

export function TagsTable({
  image,
  tags,
  canDelete,
  canDeploy,
  onFindings,
  onDelete,
  onDeploy,
}: {
  image: string;
  tags: Tag[];
  canDelete: boolean;
  canDeploy: boolean;
  onFindings: (tag: Tag) => void;
  onDelete: (tag: Tag) => void;
  onDeploy: (tag: Tag) => void;
}) {
  const { t } = useTranslation();
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="tags-table">
        <thead>
          <tr>
            <th scope="col">{t('registries.tags.tag')}</th>
            <th scope="col">{t('registries.tags.digest')}</th>
            <th scope="col" className="num">
              {t('registries.tags.size')}
            </th>
            <th scope="col">{t('registries.tags.platforms')}</th>
            <th scope="col">{t('registries.tags.created')}</th>
            <th scope="col">{t('registries.tags.scan')}</th>
            <th scope="col" className="actions-col">
              <span className="visually-hidden">{t('registries.actions')}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tags.map((tag) => (
            <tr key={tag.tag} data-testid={`tag-row-${tag.tag}`} data-digest={tag.digest} data-size={tag.size ?? ''}>
              <td className="mono">
                <strong>{tag.tag}</strong>
              </td>
              <td>
                <span className="digest-cell">
                  <span className="mono small" title={tag.digest} data-testid="tag-digest">
                    {shortDigest(tag.digest)}
                  </span>
                  <CopyButton text={`${image}@${tag.digest}`} label={t('registries.tags.copyDigest', { tag: tag.tag })} testId={`copy-digest-${tag.tag}`} />
                </span>
              </td>
              <td className="num nowrap" data-testid="tag-size" title={tag.size === null ? undefined : t('registries.tags.bytes', { count: tag.size })}>
                {imageSize(tag.size)}
              </td>
              <td className="mono small" data-testid="tag-platforms">
                {tag.platforms.length > 0 ? tag.platforms.map(platformText).join(', ') : '—'}
              </td>
              <td className="nowrap small" title={tag.created ?? undefined}>
                {formatDateTime(tag.created) ?? '—'}
              </td>
              <td data-testid="tag-scan">
                {tag.scan ? (
                  <button
                    type="button"
                    className="sev-chips-button"
                    aria-label={t('registries.findings.open', { tag: tag.tag })}
                    data-testid={`findings-${tag.tag}`}
                    onClick={() => onFindings(tag)}
                  >
                    <ScanChips scan={tag.scan} />
                  </button>
                ) : (
                  <ScanChips scan={null} />
                )}
              </td>
              <td>
                <div className="row-actions">
                  {canDeploy && (
                    <button type="button" className="btn btn-small" data-testid={`deploy-tag-${tag.tag}`} onClick={() => onDeploy(tag)}>
                      {t('registries.deploy.button')}
                    </button>
                  )}
                  {canDelete && (
                    <button type="button" className="btn btn-small btn-danger-outline" data-testid={`delete-tag-${tag.tag}`} onClick={() => onDelete(tag)}>
                      {t('registries.tags.delete')}
                    </button>
                  )}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
