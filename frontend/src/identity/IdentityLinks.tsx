/**
 * A user's identity links (user detail, `identities` of GET /api/users/{id}/): which provider
 * vouches for them under which subject, the groups it reported, and the last sign-in through it.
 */
import { useTranslation } from 'react-i18next';
import { formatDateTime } from '../lib/format';
import type { IdentityLink } from './types';

function providerLabel(link: IdentityLink): string {
  return link.provider_display_name || link.provider;
}

export function IdentityLinksTable({ links }: { links: IdentityLink[] }) {
  const { t } = useTranslation();
  if (links.length === 0) return <p className="muted" data-testid="identity-links-empty">{t('identity.links.none')}</p>;
  return (
    <table className="table table-dense" data-testid="identity-links">
      <thead>
        <tr>
          <th scope="col">{t('identity.links.provider')}</th>
          <th scope="col">{t('identity.links.subject')}</th>
          <th scope="col">{t('identity.links.username')}</th>
          <th scope="col">{t('identity.preview.groups')}</th>
          <th scope="col">{t('identity.links.lastSignIn')}</th>
        </tr>
      </thead>
      <tbody>
        {links.map((link) => (
          <tr key={link.id} data-testid={`identity-link-${link.provider}`}>
            <td>
              {providerLabel(link)}
              {link.kind && <span className="muted"> ({t(`identity.kind.${link.kind}`)})</span>}
              {link.provider_enabled === false && <span className="badge tone-bad"> {t('identity.disabled')}</span>}
            </td>
            <td className="mono identity-groups">{link.subject}</td>
            <td className="mono">{link.username || t('common.none')}</td>
            <td className="mono identity-groups">{(link.groups ?? []).join(', ') || t('common.none')}</td>
            <td className="nowrap">{formatDateTime(link.last_sign_in) ?? t('common.never')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function IdentityLinks({ links }: { links: IdentityLink[] }) {
  const { t } = useTranslation();
  return (
    <section className="card" data-testid="identity-links-card">
      <h2>{t('identity.links.title')}</h2>
      <IdentityLinksTable links={links} />
    </section>
  );
}
