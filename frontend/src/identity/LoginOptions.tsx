/**
 * The login page's single sign-on parts: one button per enabled OIDC provider (a full-page
 * navigation to the provider's start URL, carrying ?next=), the choice of where a username and
 * password are checked (the local accounts or an LDAP directory), and the text of a sign-in the
 * server refused (`/login?error=<code>` after an OIDC callback).
 */
import i18n from 'i18next';
import { useTranslation } from 'react-i18next';
import { serverText } from '../lib/messages';
import './identity.css';
import type { LoginProvider } from './types';

export function oidcStartUrl(name: string, next: string): string {
  return `/api/auth/oidc/${encodeURIComponent(name)}/start/?next=${encodeURIComponent(next)}`;
}

export function OidcButtons({ providers, next }: { providers: LoginProvider[]; next: string }) {
  const { t } = useTranslation();
  const oidc = providers.filter((p) => p.kind === 'oidc');
  if (oidc.length === 0) return null;
  return (
    <div className="sso-buttons" data-testid="sso-buttons">
      {oidc.map((p) => (
        <a key={p.name} className="btn btn-block" href={oidcStartUrl(p.name, next)} data-testid={`sso-${p.name}`}>
          {t('login.sso.with', { name: p.display_name || p.name })}
        </a>
      ))}
      <div className="sso-divider" aria-hidden="true">
        <span>{t('login.sso.or')}</span>
      </div>
    </div>
  );
}

/** Where the form's username and password go: '' is the local accounts, else an LDAP provider's name. */
export function DirectoryChoice({
  providers,
  value,
  onChange,
}: {
  providers: LoginProvider[];
  value: string;
  onChange: (name: string) => void;
}) {
  const { t } = useTranslation();
  const ldap = providers.filter((p) => p.kind === 'ldap');
  if (ldap.length === 0) return null;
  const options = [{ name: '', label: t('login.sso.local') }, ...ldap.map((p) => ({ name: p.name, label: p.display_name || p.name }))];
  return (
    <fieldset className="login-directory" data-testid="login-directory">
      <legend>{t('login.sso.signInWith')}</legend>
      {options.map((o) => (
        <label key={o.name || 'local'} className="checkbox">
          <input
            type="radio"
            name="directory"
            value={o.name}
            checked={value === o.name}
            onChange={() => onChange(o.name)}
            data-testid={`directory-${o.name || 'local'}`}
          />
          {o.label}
        </label>
      ))}
    </fieldset>
  );
}

/** A refused sign-in (`?error=<code>&provider=<name>`) in the user's language; unknown codes say so generically. */
export function useRefusedText(code: string | null, provider: string | null, providers: LoginProvider[] = []): string | null {
  const { t } = useTranslation();
  if (!code) return null;
  // The code comes from the address bar: only a code-shaped one is repeated back.
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(code)) return t('login.sso.refused', { code: '?' });
  const params: Record<string, string> = {};
  // The redirect names the provider by its name; the page shows its display name when it knows it.
  if (provider) params.provider = providers.find((p) => p.name === provider)?.display_name || provider;
  const coded = serverText(t, { code, params, text: null });
  if (coded) return coded;
  // A code whose server text needs params the redirect does not carry has a login-page wording.
  const own = `login.refusedBy.${code}`;
  if (i18n.exists(own)) return (t as unknown as (key: string) => string)(own);
  return t('login.sso.refused', { code });
}
