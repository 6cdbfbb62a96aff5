import { useTranslation } from 'react-i18next';
import type { ApiToken } from '../api/types';
import { formatDateTime } from '../lib/format';

export function TokenList({ tokens, onRevoke }: { tokens: ApiToken[]; onRevoke: (token: ApiToken) => void }) {
  const { t } = useTranslation();
  if (tokens.length === 0) return <p className="muted" data-testid="tokens-empty">{t('tokens.empty')}</p>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="token-list">
        <thead>
          <tr>
            <th scope="col">{t('tokens.col.name')}</th>
            <th scope="col">{t('tokens.col.prefix')}</th>
            <th scope="col">{t('tokens.col.created')}</th>
            <th scope="col">{t('tokens.col.expires')}</th>
            <th scope="col">{t('tokens.col.lastUsed')}</th>
            <th scope="col" className="actions-col">
              {t('tokens.col.actions')}
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((token) => (
            <tr key={token.id} data-testid={`token-row-${token.id}`}>
              <td>{token.name}</td>
              <td>
                <code>{token.prefix}…</code>
              </td>
              <td>{formatDateTime(token.created)}</td>
              <td>{formatDateTime(token.expires) ?? t('common.never')}</td>
              <td>{formatDateTime(token.last_used) ?? t('common.none')}</td>
              <td className="actions-col">
                <button type="button" className="btn btn-small btn-danger-outline" onClick={() => onRevoke(token)}>
                  {t('tokens.revoke.button')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
