/** Service maps as a table: status, quota use bars and workload/pod counts, each linking to its page. */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { messageText } from '../lib/messages';
import { QuotaBar, StateBadge } from './common';
import { orderedKeys } from './quantity';
import type { ServiceMap, ServiceMapDeletion } from './types';

const BAR_KEYS = ['requests.cpu', 'requests.memory', 'pods'];

export const serviceMapPath = (sm: Pick<ServiceMap, 'id' | 'workspace'>) => `/workspaces/${sm.workspace.id}/servicemaps/${sm.id}`;

export function ServiceMapTable({ rows, showWorkspace = false }: { rows: ServiceMap[]; showWorkspace?: boolean }) {
  const { t } = useTranslation();
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="servicemaps-table">
        <thead>
          <tr>
            <th scope="col">{t('workspaces.servicemap.name')}</th>
            {showWorkspace && <th scope="col">{t('workspaces.servicemap.workspace')}</th>}
            <th scope="col">{t('workspaces.field.cluster')}</th>
            <th scope="col">{t('clusters.col.status')}</th>
            <th scope="col">{t('workspaces.servicemap.usage')}</th>
            <th scope="col" className="num">
              {t('workspaces.servicemap.workloads')}
            </th>
            <th scope="col" className="num">
              {t('workspaces.servicemap.pods')}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((sm) => {
            const keys = orderedKeys(sm.usage).filter((k) => BAR_KEYS.includes(k));
            return (
              <tr key={sm.id} data-testid={`servicemap-row-${sm.namespace}`} data-status={sm.status}>
                <td>
                  <Link to={serviceMapPath(sm)} data-testid="servicemap-link">
                    {sm.display_name || sm.namespace}
                  </Link>
                  <div className="mono small muted">{sm.namespace}</div>
                </td>
                {showWorkspace && (
                  <td>
                    <Link to={`/workspaces/${sm.workspace.id}`}>{sm.workspace.name}</Link>
                  </td>
                )}
                <td className="mono">{sm.cluster.display_name || sm.cluster.name}</td>
                <td>
                  <StateBadge status={sm.status} message={messageText(t, sm)} testId="servicemap-status" />
                  {(sm as ServiceMap & ServiceMapDeletion).deletion_stuck && (
                    <span className="badge tone-bad" data-testid="deletion-stuck" title={sm.message || undefined}>
                      {t('workspaces.servicemap.deletionStuck')}
                    </span>
                  )}
                  {!sm.in_sync && sm.status !== 'deleting' && (
                    <span className="badge tone-warn" data-testid="not-in-sync">
                      {t('workspaces.servicemap.notInSync')}
                    </span>
                  )}
                </td>
                <td className="bars-cell">
                  {keys.length === 0 ? (
                    <span className="muted">—</span>
                  ) : (
                    keys.map((k) => <QuotaBar key={k} resource={k} used={sm.usage[k]?.used} total={sm.usage[k]?.hard} testId={`usage-${k}`} />)
                  )}
                </td>
                <td className="num" data-testid="cell-workloads">
                  {sm.workloads.ready}/{sm.workloads.total}
                </td>
                <td className="num" data-testid="cell-pods">
                  {sm.pods.running}/{sm.pods.total}
                  {sm.pods.failed > 0 && <span className="bad-text"> · {t('workspaces.servicemap.failed', { count: sm.pods.failed })}</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
