/**
 * The "Move to cluster…" button of the service map page and its dialog (a chunk of its own,
 * downloaded when the button is first used), and a link to the service map's latest move (its
 * ledger page), kept live from the workspace's group.
 */
import { lazy, Suspense, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import type { MoveSource } from './MoveDialog';
import { useMoves, useMovesLive } from './queries';
import type { MoveStatus } from './types';

const MoveDialog = lazy(() => import('./MoveDialog').then((m) => ({ default: m.MoveDialog })));

function LatestMove({ source }: { source: MoveSource }) {
  const { t } = useTranslation();
  const moves = useMoves({ service_map: source.id });
  useMovesLive(source.workspaceId);
  const latest = moves.data?.[0];
  if (!latest) return null;
  const outgoing = latest.source === source.id;
  return (
    <Link to={`/moves/${latest.id}`} className="small" data-testid="latest-move" data-status={latest.status}>
      {t('moves.latest', { status: t(`moves.status.${latest.status as MoveStatus}`) })}{' '}
      {outgoing ? t('moves.latestTo', { cluster: latest.target_cluster_name }) : t('moves.latestFrom', { cluster: latest.source_cluster_name })}
    </Link>
  );
}

export function MoveAction({ source }: { source: MoveSource }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="btn btn-small" data-testid="move-servicemap" onClick={() => setOpen(true)}>
        {t('moves.action')}
      </button>
      <LatestMove source={source} />
      {open && (
        <Suspense fallback={null}>
          <MoveDialog source={source} onClose={() => setOpen(false)} />
        </Suspense>
      )}
    </>
  );
}
