/**
 * What the portal can and cannot do on a cluster, from the last permission check
 * (`permissions` of the cluster detail, docs/clusters-api.md): one row per resource and scope,
 * with the RBAC YAML (Role or ClusterRole and its binding) that grants what is missing, ready for
 * `kubectl apply -f`.
 */
import { useTranslation } from 'react-i18next';
import type { ClusterDetail } from './types';

type Permissions = NonNullable<ClusterDetail['permissions']>;
type Row = Permissions['rows'][number];

function resourceName(r: Row): string {
  const name = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return r.group ? `${name}.${r.group}` : name;
}

export function PermissionsPanel({ permissions }: { permissions: Permissions | null | undefined }) {
  const { t } = useTranslation();
  if (!permissions || !permissions.rows?.length) return null;
  const gaps = permissions.rows.filter((r) => r.missing.length > 0);
  return (
    <details className="permissions" open={gaps.length > 0} data-testid="permissions">
      <summary>
        {t('clusters.permissions.title')} ·{' '}
        {gaps.length > 0 ? t('clusters.permissions.gaps', { count: gaps.length }) : t('clusters.permissions.allGranted')}
      </summary>
      <p className="small" data-testid="permissions-scope">
        {permissions.scope === 'namespaces'
          ? t('clusters.permissions.scopeNamespaces', { namespaces: permissions.namespaces.join(', ') })
          : t('clusters.permissions.scopeCluster')}
      </p>
      <table className="table table-dense table-compact" data-testid="permissions-table">
        <thead>
          <tr>
            <th scope="col">{t('clusters.permissions.resource')}</th>
            <th scope="col">{t('clusters.permissions.scope')}</th>
            <th scope="col">{t('clusters.permissions.can')}</th>
            <th scope="col">{t('clusters.permissions.cannot')}</th>
            <th scope="col">{t('clusters.permissions.fix')}</th>
          </tr>
        </thead>
        <tbody>
          {permissions.rows.map((r) => (
            <tr
              key={`${r.resource}/${r.subresource}/${r.namespace}`}
              data-testid={`permission-${r.resource}${r.subresource ? `-${r.subresource}` : ''}${r.namespace ? `-${r.namespace}` : ''}`}
              data-missing={r.missing.join(',')}
            >
              <td className="mono">{resourceName(r)}</td>
              <td>{r.namespace ? t('clusters.permissions.inNamespace', { namespace: r.namespace }) : t('clusters.permissions.clusterScope')}</td>
              <td className="mono">{r.allowed.join(', ') || '—'}</td>
              <td className="mono">
                {r.missing.length > 0 ? <span className="badge sync-forbidden">{r.missing.join(', ')}</span> : '—'}
              </td>
              <td>
                {r.fix ? (
                  <details>
                    <summary className="small">{t('clusters.permissions.showYaml')}</summary>
                    <pre className="mono small yaml" data-testid="permission-fix">
                      {r.fix}
                    </pre>
                  </details>
                ) : (
                  '—'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
