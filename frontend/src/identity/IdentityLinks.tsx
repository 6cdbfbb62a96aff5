/**
 * A user's identity links (user detail, `identities` of GET /api/users/{id}/): which provider
 * vouches for them under which subject, the groups it reported, and the last sign-in through it.
 * With `userId`, admins may move a link to another user (the same person signing in through a
 * second provider) or remove it (docs/sso.md, "Linking identities").
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { formatDateTime } from '../lib/format';
import { apiErrorText, serverText } from '../lib/messages';
import { useLinkIdentity, useUnlinkIdentity, useUserSearch } from './queries';
import type { IdentityLink, PickedUser } from './types';

function providerLabel(link: IdentityLink): string {
  return link.provider_display_name || link.provider;
}

type Action = { kind: 'move' | 'unlink'; link: IdentityLink } | null;

export function IdentityLinksTable({ links, onAction }: { links: IdentityLink[]; onAction?: (action: Action) => void }) {
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
          {onAction && <th scope="col">{t('identity.links.actions')}</th>}
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
            {onAction && (
              <td className="nowrap">
                <button type="button" className="btn btn-small" data-testid={`move-link-${link.provider}`}
                  onClick={() => onAction({ kind: 'move', link })}>
                  {t('identity.links.move')}
                </button>{' '}
                <button type="button" className="btn btn-small btn-danger" data-testid={`unlink-${link.provider}`}
                  onClick={() => onAction({ kind: 'unlink', link })}>
                  {t('identity.links.unlink')}
                </button>
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function userLabel(user: PickedUser): string {
  const name = [user.first_name, user.last_name].filter(Boolean).join(' ');
  return name ? `${user.username} (${name})` : user.username;
}

/** "Move to another user…": search the users list, pick one, confirm. */
function MoveDialog({ link, userId, onDone, onClose }: {
  link: IdentityLink;
  userId: number;
  onDone: (notice: string) => void;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const [q, setQ] = useState('');
  const [picked, setPicked] = useState<PickedUser | null>(null);
  const users = useUserSearch(q);
  const move = useLinkIdentity();
  const candidates = (users.data ?? []).filter((u) => u.id !== userId);
  const submit = () => {
    if (!picked) return;
    move.mutate({ id: link.id, user: picked.id }, {
      onSuccess: (result) => {
        const moved = t('identity.links.moved', { provider: providerLabel(link), username: picked.username });
        const extra = result.message_code ? serverText(t, { code: result.message_code, params: result.message_params, text: result.message }) : '';
        onDone(extra ? `${moved} ${extra}` : moved);
      },
    });
  };
  return (
    <Dialog
      title={t('identity.links.moveTitle', { provider: providerLabel(link) })}
      onClose={onClose}
      testId="move-link-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={move.isPending}>{t('common.cancel')}</button>
          <button type="button" className="btn btn-primary" data-testid="move-link-submit"
            disabled={!picked || move.isPending} onClick={submit}>
            {move.isPending ? t('identity.links.moving') : t('identity.links.moveConfirm')}
          </button>
        </>
      }
    >
      <p>{t('identity.links.moveHelp')}</p>
      <label className="field">
        <span>{t('identity.links.searchUser')}</span>
        <input type="search" value={q} data-testid="link-user-search" autoComplete="off"
          onChange={(e) => { setQ(e.target.value); setPicked(null); }} />
      </label>
      {users.isError && <p className="alert alert-error" role="alert">{apiErrorText(t, users.error)}</p>}
      {q.trim() && users.isSuccess && candidates.length === 0 && <p className="muted">{t('identity.links.noUsers')}</p>}
      {candidates.length > 0 && (
        <ul className="plain-list" data-testid="link-user-results">
          {candidates.map((u) => (
            <li key={u.id}>
              <label>
                <input type="radio" name="link-target" checked={picked?.id === u.id} data-testid={`pick-user-${u.username}`}
                  onChange={() => setPicked(u)} />{' '}
                {userLabel(u)}
                {u.is_active === false && <span className="muted"> ({t('users.inactive')})</span>}
              </label>
            </li>
          ))}
        </ul>
      )}
      {move.error && <p className="alert alert-error" role="alert" data-testid="move-link-error">{apiErrorText(t, move.error)}</p>}
    </Dialog>
  );
}

export function IdentityLinks({ links, userId }: { links: IdentityLink[]; userId?: number }) {
  const { t } = useTranslation();
  const [action, setAction] = useState<Action>(null);
  const [notice, setNotice] = useState('');
  const unlink = useUnlinkIdentity();
  const done = (text: string) => {
    setAction(null);
    setNotice(text);
  };
  return (
    <section className="card" data-testid="identity-links-card">
      <h2>{t('identity.links.title')}</h2>
      {notice && <p className="alert" role="status" data-testid="identity-links-notice">{notice}</p>}
      <IdentityLinksTable links={links} onAction={userId === undefined ? undefined : setAction} />
      {action?.kind === 'move' && userId !== undefined && (
        <MoveDialog link={action.link} userId={userId} onDone={done} onClose={() => setAction(null)} />
      )}
      {action?.kind === 'unlink' && (
        <ConfirmDialog
          title={t('identity.links.unlinkTitle', { provider: providerLabel(action.link) })}
          message={t('identity.links.unlinkMessage')}
          confirmLabel={t('identity.links.unlink')}
          busyLabel={t('identity.links.unlinking')}
          busy={unlink.isPending}
          error={unlink.error}
          onConfirm={() => unlink.mutate(action.link.id, {
            onSuccess: (result) => done(result.can_sign_in
              ? t('identity.links.unlinked', { provider: providerLabel(action.link) })
              : serverText(t, { code: result.message_code, params: result.message_params, text: result.message })),
          })}
          onCancel={() => {
            unlink.reset();
            setAction(null);
          }}
          testId="unlink-dialog"
          submitTestId="unlink-submit"
        />
      )}
    </section>
  );
}
