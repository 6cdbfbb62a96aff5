/**
 * The live-update indicator in the top bar, and a banner when the socket has
 * been down for more than a few seconds.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { getSocket, useSocketState } from '../lib/socket';

export const BANNER_DELAY_MS = 5000;

export function WsStatus() {
  const { t } = useTranslation();
  const state = useSocketState();
  const label = t(`ws.${state}`);
  return (
    <span className={`ws-status ws-${state}`} data-testid="ws-status" data-state={state} title={t('ws.title', { state: label })}>
      <span className="ws-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

export function ConnectionBanner() {
  const { t } = useTranslation();
  const state = useSocketState();
  const [show, setShow] = useState(false);
  useEffect(() => {
    if (state === 'open') {
      setShow(false);
      return undefined;
    }
    const timer = setTimeout(() => setShow(true), BANNER_DELAY_MS);
    return () => clearTimeout(timer);
  }, [state]);
  if (!show || state === 'open') return null;
  const final = getSocket().finalCloseCode !== null;
  return (
    <div className="banner banner-warning" role="status" data-testid="ws-banner">
      {final ? t('ws.bannerFinal') : t('ws.banner')}
    </div>
  );
}
