/**
 * A repository's tags on the console's DataTable: tag, digest (short, with copy), size in binary
 * units, platforms, creation time, the scan summary by severity (opens the findings), and the
 * row's actions. The registry answers every tag at once (no paging there), so the sort by tag,
 * size or creation time happens here.
 */
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { DataTable, type ColumnDef } from '../components/table';
import { formatDateTime } from '../lib/format';
import { sortRows } from '../lists/keyset';
import { CopyButton, ScanChips } from './common';
import { imageSize, platformText, shortDigest } from './format';
import type { Tag } from './types';

const SORT: Record<string, (tag: Tag) => string | number | null> = {
  tag: (tag) => tag.tag,
  size: (tag) => tag.size,
  created: (tag) => tag.created,
};

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
  const [ordering, setOrdering] = useState<string | null>(null);
  const rows = useMemo(() => sortRows(tags, ordering, SORT), [tags, ordering]);
  const columns = useMemo(
    (): ColumnDef<Tag>[] => [
      {
        id: 'tag',
        meta: { label: t('registries.tags.tag'), sortKey: 'tag', priority: 1, className: 'mono' },
        cell: ({ row: { original: tag } }) => <strong>{tag.tag}</strong>,
      },
      {
        id: 'digest',
        meta: { label: t('registries.tags.digest'), priority: 2 },
        cell: ({ row: { original: tag } }) => (
          <span className="digest-cell">
            <span className="mono small" title={tag.digest} data-testid="tag-digest" data-digest={tag.digest}>
              {shortDigest(tag.digest)}
            </span>
            <CopyButton text={`${image}@${tag.digest}`} label={t('registries.tags.copyDigest', { tag: tag.tag })} testId={`copy-digest-${tag.tag}`} />
          </span>
        ),
      },
      {
        id: 'size',
        meta: { label: t('registries.tags.size'), sortKey: 'size', align: 'end', priority: 2, className: 'nowrap' },
        cell: ({ row: { original: tag } }) => (
          <span data-testid="tag-size" data-size={tag.size ?? ''} title={tag.size === null ? undefined : t('registries.tags.bytes', { count: tag.size })}>
            {imageSize(tag.size)}
          </span>
        ),
      },
      {
        id: 'platforms',
        meta: { label: t('registries.tags.platforms'), priority: 3, className: 'mono small', cellTestId: 'tag-platforms' },
        cell: ({ row: { original: tag } }) => (tag.platforms.length > 0 ? tag.platforms.map(platformText).join(', ') : '—'),
      },
      {
        id: 'created',
        meta: { label: t('registries.tags.created'), sortKey: 'created', priority: 2, className: 'nowrap small' },
        cell: ({ row: { original: tag } }) => <span title={tag.created ?? undefined}>{formatDateTime(tag.created) ?? '—'}</span>,
      },
      {
        id: 'scan',
        meta: { label: t('registries.tags.scan'), priority: 1, cellTestId: 'tag-scan' },
        cell: ({ row: { original: tag } }) =>
          tag.scan ? (
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
          ),
      },
      {
        id: 'actions',
        meta: { label: t('registries.actions'), priority: 1, className: 'actions-col' },
        cell: ({ row: { original: tag } }) => (
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
        ),
      },
    ],
    [t, image, canDelete, canDeploy, onFindings, onDelete, onDeploy],
  );
  return (
    <DataTable<Tag>
      tableKey="registry.tags"
      label={t('lists.tags')}
      columns={columns}
      rows={rows}
      getRowId={(tag) => tag.tag}
      ordering={ordering}
      onOrderingChange={setOrdering}
      rowTestId={(tag) => `tag-row-${tag.tag}`}
      testId="tags-table"
    />
  );
}
