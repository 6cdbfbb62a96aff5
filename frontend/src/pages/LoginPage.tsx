/**
 * /login: one button per enabled OIDC provider, and the username + password form, checked by the
 * local accounts or, when chosen, by an LDAP provider. Shows the server's message, field errors,
 * rate limits, and a sign-in a provider's callback refused (`?error=<code>`).
 */
import { useEffect, useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/errors';
import { safeNext } from '../auth/RequireAuth';
import { sessionExpiredKey, useLogin, useMe } from '../auth/queries';
import { useQueryClient } from '@tanstack/react-query';
import { FieldErrors } from '../components/FieldErrors';
import { FormField } from '../components/FormField';
import { LanguageSwitch } from '../layout/LanguageSwitch';
import { apiErrorText } from '../lib/messages';
import { DirectoryChoice, OidcButtons, useRefusedText } from '../identity/LoginOptions';
import { useLdapLogin, useLoginProviders } from '../identity/queries';
import { dashboardPage } from '../routeChunks';

/** While the user types, the dashboard (where a login without ?next= lands) downloads. */
function usePreloadDashboard(next: string) {
  useEffect(() => {
    if (next !== '/') return undefined;
    const run = () => void dashboardPage.preload().catch(() => undefined);
    if (typeof window.requestIdleCallback === 'function') {
      const id = window.requestIdleCallback(run, { timeout: 3000 });
      return () => window.cancelIdleCallback(id);
    }
    const id = window.setTimeout(run, 1000);
    return () => window.clearTimeout(id);
  }, [next]);
}

function useLoginErrorText(error: ApiError | null): string | null {
  const { t } = useTranslation();
  if (!error) return null;
  if (error.status === 429 && error.code === 'account_locked') {
    return t('login.accountLocked', { minutes: Math.max(1, Math.ceil((error.retryAfter ?? 60) / 60)) });
  }
  if (error.status === 429) {
    return error.retryAfter !== null
      ? t('login.rateLimited', { seconds: error.retryAfter })
      : t('login.rateLimitedNoTime');
  }
  return apiErrorText(t, error) || t('login.failed');
}

export function LoginPage() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const navigate = useNavigate();
  const me = useMe();
  const local = useLogin();
  const ldap = useLdapLogin();
  const providers = useLoginProviders().data ?? [];
  const [directory, setDirectory] = useState('');
  const viaLdap = directory !== '' && providers.some((p) => p.kind === 'ldap' && p.name === directory);
  const login = viaLdap ? ldap : local;
  const refusedText = useRefusedText(params.get('error'), params.get('provider'), providers);
  const expired = useQueryClient().getQueryData<boolean>(sessionExpiredKey) === true;
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const error = login.error instanceof ApiError ? login.error : null;
  const errorText = useLoginErrorText(error);
  usePreloadDashboard(next);

  if (me.data && !local.isPending && !ldap.isPending) return <Navigate to={next} replace />;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const done = { onSuccess: () => void navigate(next, { replace: true }) };
    if (viaLdap) ldap.mutate({ provider: directory, username, password }, done);
    else local.mutate({ username, password }, done);
  };

  const usernameErrors = error?.forField('username') ?? [];
  const passwordErrors = error?.forField('password') ?? [];
  const formErrors = error?.forField('non_field_errors') ?? [];

  return (
    <main className="login-page">
      <div className="login-lang">
        <LanguageSwitch />
      </div>
      <form className="login-card" onSubmit={onSubmit} noValidate aria-labelledby="login-title">
        <div className="login-brand">
          <span className="brand-mark" aria-hidden="true">
            ⎈
          </span>
          {t('app.name')}
        </div>
        <h1 id="login-title">{t('login.title')}</h1>
        <p className="muted">{t('login.subtitle')}</p>
        {refusedText && !errorText && (
          <div className="alert alert-error" role="alert" data-testid="sso-refused">
            {refusedText}
          </div>
        )}
        {expired && !errorText && !refusedText && (
          <div className="alert alert-warning" role="status" data-testid="session-expired">
            {t('login.sessionExpired')}
          </div>
        )}
        {errorText && (
          <div className="alert alert-error" role="alert" data-testid="login-error">
            {errorText}
          </div>
        )}
        <OidcButtons providers={providers} next={next} />
        <DirectoryChoice
          providers={providers}
          value={viaLdap ? directory : ''}
          onChange={(name) => {
            local.reset();
            ldap.reset();
            setDirectory(name);
          }}
        />
        <FieldErrors id="login-form-errors" messages={formErrors} />
        <FormField label={t('login.username')} errors={usernameErrors}>
          <input
            name="username"
            autoComplete="username"
            autoFocus
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </FormField>
        <FormField label={t('login.password')} errors={passwordErrors}>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </FormField>
        <button type="submit" className="btn btn-primary btn-block" disabled={login.isPending}>
          {login.isPending ? t('login.submitting') : t('login.submit')}
        </button>
      </form>
    </main>
  );
}
