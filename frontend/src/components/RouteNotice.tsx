/**
 * A notice carried to the next page in the router state (`navigate(to, { state: { notice } })`):
 * a page that is gone (a deleted release or service map) sends the user to its list and says why
 * there, instead of landing on "page not found".
 */
import { useTranslation } from 'react-i18next';
import { useLocation, useNavigate } from 'react-router-dom';

export type NoticeState = { notice?: string };

export function RouteNotice() {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const state = location.state as NoticeState | null;
  const notice = typeof state?.notice === 'string' ? state.notice : null;
  if (!notice) return null;
  return (
    <p className="alert alert-success route-notice" role="status" data-testid="route-notice">
      {notice}{' '}
      <button type="button" className="btn btn-small btn-link" onClick={() => navigate(location.pathname + location.search, { replace: true, state: null })}>
        {t('common.dismiss')}
      </button>
    </p>
  );
}
