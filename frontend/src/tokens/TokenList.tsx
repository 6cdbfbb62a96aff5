/**
 * The caller's API tokens on the console's DataTable. TokensPage pages them (Pager) and hands one
 * page here; a user holds a handful, so the sort by name, creation, expiry or last use is done
 * on the rows shown.
 */
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiToken } from '../api/types';
import { DataTable, type ColumnDef } from '../components/table';
import { formatDateTime } from '../lib/format';
import { sortRows } from '../lists/keyset';

const SORT: Record<string, (token: ApiToken) => string | null | undefined> = {
  name: (token) => token.name,
  created: (token) => token.created,
  expires: (token) => token.expires,
  last_used: (token) => token.last_used,
};

export function TokenList({ tokens, onRevoke }: { tokens: ApiToken[]; onRevoke: (token: ApiToken) => void }) {
  const { t } = useTranslation();
  const [ordering, setOrdering] = useState<string | null>(null);
  const rows = useMemo(() => sortRows(tokens, ordering, SORT), [tokens, ordering]);
  const columns = useMemo(
    (): ColumnDef<ApiToken>[] => [
      { id: 'name', meta: { label: t('tokens.col.name'), sortKey: 'name', priority: 1 }, cell: ({ row: { original: token } }) => token.name },
      {
        id: 'prefix',
        meta: { label: t('tokens.col.prefix'), priority: 2 },
        cell: ({ row: { original: token } }) => <code>{token.prefix}…</code>,
      },
      {
        id: 'created',
        meta: { label: t('tokens.col.created'), sortKey: 'created', priority: 3 },
        cell: ({ row: { original: token } }) => formatDateTime(token.created),
      },
      {
        id: 'expires',
        meta: { label: t('tokens.col.expires'), sortKey: 'expires', priority: 2 },
        cell: ({ row: { original: token } }) => formatDateTime(token.expires) ?? t('common.never'),
      },
      {
        id: 'last_used',
        meta: { label: t('tokens.col.lastUsed'), sortKey: 'last_used', priority: 2 },
        cell: ({ row: { original: token } }) => formatDateTime(token.last_used) ?? t('common.none'),
      },
      {
        id: 'actions',
        meta: { label: t('tokens.col.actions'), priority: 1, className: 'actions-col' },
        cell: ({ row: { original: token } }) => (
          <button type="button" className="btn btn-small btn-danger-outline" onClick={() => onRevoke(token)}>
            {t('tokens.revoke.button')}
          </button>
        ),
      },
    ],
    [t, onRevoke],
  );
  if (tokens.length === 0) return <p className="muted" data-testid="tokens-empty">{t('tokens.empty')}</p>;
  return (
    <DataTable<ApiToken>
      tableKey="tokens"
      label={t('lists.tokens')}
      columns={columns}
      rows={rows}
      getRowId={(token) => String(token.id)}
      ordering={ordering}
      onOrderingChange={setOrdering}
      rowTestId={(token) => `token-row-${token.id}`}
      testId="token-list"
      maxHeight="none"
    />
  );
}
