/**
 * /: the role dashboards. One GET /api/dashboard/ answers the tiles of every role the user holds
 * (admin, operator, developer), most urgent first; each tile links to the list behind it and says
 * how fresh its figures are. Live: the socket groups the answer names refetch it (debounced).
 */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { useMe } from '../../auth/queries';
import { ErrorState } from '../../components/ErrorState';
import { Loading } from '../../components/Loading';
import { displayName } from '../../layout/UserMenu';
import { Freshness, useNow } from './Freshness';
import { KNOWN_TILES, TileBody } from './TileBodies';
import { useDashboard, useDashboardLive } from './queries';
import type { Tile } from './types';
import { level, word } from './words';
import './dashboard.css';

function TileCard({ tile, now }: { tile: Tile; now: number }) {
  const { t } = useTranslation();
  const titleId = `tile-${tile.key}-title`;
  return (
    <section
      className={`card tile tile-${level(tile.attention)}`}
      aria-labelledby={titleId}
      data-testid={`tile-${tile.key}`}
      data-attention={tile.attention}
      data-role={tile.role}
    >
      <header className="tile-header">
        <h2 id={titleId} className="card-title">
          {word(t, 'tiles', tile.key)}
        </h2>
        {tile.attention > 0 && (
          <span className={`tile-attention ${level(tile.attention)}`} data-testid={`tile-${tile.key}-attention`}>
            {word(t, 'attention', String(tile.attention))}
          </span>
        )}
      </header>
      <div className="tile-body">
        <TileBody tile={tile} />
      </div>
      <footer className="tile-footer">
        <Freshness asOf={tile.as_of} now={now} testId={`tile-${tile.key}-fresh`} />
        <Link to={tile.link} className="tile-link" data-testid={`tile-${tile.key}-link`}>
          {t('dashboards.viewList')}
          <span className="visually-hidden"> — {word(t, 'tiles', tile.key)}</span>
        </Link>
      </footer>
    </section>
  );
}

export function DashboardPage() {
  const { t } = useTranslation();
  const { data: user } = useMe();
  const dashboard = useDashboard();
  useDashboardLive(dashboard.data?.groups);
  const now = useNow();
  if (!user) return null;
  const tiles = (dashboard.data?.tiles ?? []).filter((tile) => KNOWN_TILES.has(tile.key));
  const roles = dashboard.data?.roles ?? [];
  return (
    <section className="page" data-testid="dashboard">
      <header className="page-header">
        <h1>{t('dashboards.title')}</h1>
      </header>
      <div className="dashboard-intro">
        <p className="dashboard-welcome">{t('dashboards.welcome', { name: displayName(user) })}</p>
        <p className="muted" data-testid="dashboard-role">
          {t('dashboards.role', { role: t(`roles.${user.role}`) })}
          {roles.length > 0 && (
            <span data-testid="dashboard-roles">
              {' · '}
              {t('dashboards.showing', { count: roles.length, roles: roles.map((r) => word(t, 'roles', r)).join(', ') })}
            </span>
          )}
        </p>
      </div>
      {dashboard.isPending && <Loading />}
      {dashboard.isError && <ErrorState error={dashboard.error} onRetry={() => void dashboard.refetch()} />}
      {dashboard.data && tiles.length === 0 && (
        <div className="card tile-none" data-testid="dashboard-empty">
          <h2 className="card-title">{t('dashboards.none.title')}</h2>
          <p>{t('dashboards.none.body')}</p>
          <ul className="tile-list">
            <li>
              <Link to="/workspaces">{t('dashboards.none.workspaces')}</Link>
            </li>
            <li>
              <Link to="/catalog">{t('dashboards.none.catalog')}</Link>
            </li>
            <li>
              <Link to="/account/tokens">{t('dashboards.none.tokens')}</Link>
            </li>
          </ul>
        </div>
      )}
      {tiles.length > 0 && (
        <div className="dashboard-grid" data-testid="dashboard-tiles">
          {tiles.map((tile) => (
            <TileCard key={tile.key} tile={tile} now={now} />
          ))}
        </div>
      )}
    </section>
  );
}
