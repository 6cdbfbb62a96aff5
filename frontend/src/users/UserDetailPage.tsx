/**
 * /admin/users/:id (system admins): one account — role, state, whether it may use the local
 * password login, and the identity links single sign-on made for it.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, unwrap } from '../api/client';
import type { ApiError } from '../api/errors';
import { request } from '../api/request';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { IdentityLinks } from '../identity/IdentityLinks';
import type { IdentityLink } from '../identity/types';
import { formatDateTime } from '../lib/format';
import { apiErrorText } from '../lib/messages';
import { usersKey } from './queries';

/** Fields of the detail answer that the generated schema may not have yet. */
interface SsoFields {
  local_login_enabled?: boolean;
  identities?: IdentityLink[];
}

export function UserDetailPage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const user = useQuery({
    queryKey: [...usersKey, 'detail', id],
    queryFn: async ({ signal }) => unwrap(await api.GET('/api/users/{id}/', { params: { path: { id } }, signal })),
  });
  const sso: SsoFields = (user.data ?? {}) as SsoFields;
  const queryClient = useQueryClient();
  // local_login_enabled is not in the generated PATCH body type yet: sent through `request`.
  const localLogin = useMutation<unknown, ApiError, boolean>({
    mutationFn: (enabled) => request('PATCH', `/api/users/${id}/`, { body: { local_login_enabled: enabled } }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: usersKey }),
  });
  return (
    <section className="page" data-testid="user-detail-page">
      <header className="page-header">
        <Link to="/admin/users">← {t('users.title')}</Link>
        <h1>{user.data?.username ?? ''}</h1>
      </header>
      {user.isPending && <Loading />}
      {user.isError && <ErrorState error={user.error} onRetry={() => void user.refetch()} />}
      {user.data && (
        <>
          <section className="card">
            <dl className="identity-findings" data-testid="user-facts">
              <div>
                <dt>{t('users.col.name')}</dt>
                <dd>{[user.data.first_name, user.data.last_name].filter(Boolean).join(' ') || t('common.none')}</dd>
              </div>
              <div>
                <dt>{t('users.field.email')}</dt>
                <dd>{user.data.email || t('common.none')}</dd>
              </div>
              <div>
                <dt>{t('users.field.role')}</dt>
                <dd>{t(`roles.${user.data.role ?? 'user'}`)}</dd>
              </div>
              <div>
                <dt>{t('users.field.active')}</dt>
                <dd>{user.data.is_active === false ? t('users.inactive') : t('users.active')}</dd>
              </div>
              {sso.local_login_enabled !== undefined && (
                <div>
                  <dt>{t('identity.links.localLogin')}</dt>
                  <dd>
                    <span data-testid="local-login">{sso.local_login_enabled ? t('identity.links.localAllowed') : t('identity.links.localOff')}</span>{' '}
                    <button
                      type="button"
                      className="btn btn-small"
                      data-testid="toggle-local-login"
                      disabled={localLogin.isPending}
                      onClick={() => localLogin.mutate(!sso.local_login_enabled)}
                    >
                      {sso.local_login_enabled ? t('identity.links.switchOff') : t('identity.links.allow')}
                    </button>
                    {localLogin.error && (
                      <div className="alert alert-error" role="alert" data-testid="local-login-error">
                        {apiErrorText(t, localLogin.error)}
                      </div>
                    )}
                  </dd>
                </div>
              )}
              <div>
                <dt>{t('users.col.lastLogin')}</dt>
                <dd>{formatDateTime(user.data.last_login) ?? t('common.never')}</dd>
              </div>
            </dl>
          </section>
          <IdentityLinks links={sso.identities ?? []} userId={id} />
        </>
      )}
    </section>
  );
}
