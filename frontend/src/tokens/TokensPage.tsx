/** /account/tokens: list, create (secret shown once) and revoke personal API tokens. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiToken, ApiTokenCreated } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { Pager } from '../components/Pager';
import { CreateTokenForm } from './CreateTokenForm';
import { TokenCreatedDialog } from './TokenCreatedDialog';
import { TokenList } from './TokenList';
import { useRevokeToken, useTokens } from './queries';

export function TokensPage() {
  const { t } = useTranslation();
  const [cursor, setCursor] = useState<string | null>(null);
  const tokens = useTokens(cursor);
  // The secret lives only in this state, and only until the dialog closes.
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const revoke = useRevokeToken();

  return (
    <section className="page" data-testid="tokens-page">
      <header className="page-header">
        <h1>{t('tokens.title')}</h1>
        <p className="muted">{t('tokens.intro')}</p>
      </header>
      <CreateTokenForm onCreated={setCreated} />
      <section className="card" aria-labelledby="token-list-title">
        <h2 id="token-list-title" className="card-title">
          {t('tokens.listTitle')}
        </h2>
        {tokens.isPending && <Loading />}
        {tokens.isError && <ErrorState error={tokens.error} onRetry={() => void tokens.refetch()} />}
        {tokens.data && (
          <>
            <TokenList
              tokens={tokens.data.results}
              onRevoke={(token) => {
                revoke.reset();
                setRevoking(token);
              }}
            />
            <Pager next={tokens.data.next} previous={tokens.data.previous} onPage={setCursor} />
          </>
        )}
      </section>
      {created && <TokenCreatedDialog token={created} onClose={() => setCreated(null)} />}
      {revoking && (
        <ConfirmDialog
          title={t('tokens.revoke.title')}
          message={t('tokens.revoke.confirm', { name: revoking.name })}
          confirmLabel={t('tokens.revoke.submit')}
          busyLabel={t('tokens.revoke.submitting')}
          busy={revoke.isPending}
          error={revoke.error}
          onCancel={() => setRevoking(null)}
          onConfirm={() => revoke.mutate(revoking.id, { onSuccess: () => setRevoking(null) })}
        />
      )}
    </section>
  );
}
