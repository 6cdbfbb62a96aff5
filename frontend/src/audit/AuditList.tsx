import { useTranslation } from 'react-i18next';
import type { AuditRecord } from '../api/types';
import { formatDateTime } from '../lib/format';
import { auditActionLabel, auditTargetLabel } from './labels';

function Target({ record }: { record: AuditRecord }) {
  const { t } = useTranslation();
  if (!record.target_type && !record.target_repr) return <>{t('common.none')}</>;
  return (
    <span title={record.target_id ? `${record.target_type} #${record.target_id}` : record.target_type}>
      <span className="muted">{auditTargetLabel(t, record.target_type)}</span> {record.target_repr || record.target_id}
    </span>
  );
}

export function AuditList({ records }: { records: AuditRecord[] }) {
  const { t } = useTranslation();
  if (records.length === 0) return <p className="muted" data-testid="audit-empty">{t('audit.empty')}</p>;
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="audit-list">
        <thead>
          <tr>
            <th scope="col">{t('audit.col.time')}</th>
            <th scope="col">{t('audit.col.actor')}</th>
            <th scope="col">{t('audit.col.sourceIp')}</th>
            <th scope="col">{t('audit.col.action')}</th>
            <th scope="col">{t('audit.col.target')}</th>
            <th scope="col">{t('audit.col.outcome')}</th>
            <th scope="col">{t('audit.col.requestId')}</th>
          </tr>
        </thead>
        <tbody>
          {records.map((r) => (
            <tr key={r.id} data-testid={`audit-row-${r.id}`}>
              <td className="nowrap">{formatDateTime(r.timestamp)}</td>
              <td>{r.actor ?? <span className="muted">{t('audit.system')}</span>}</td>
              <td className="mono">{r.source_ip ?? t('common.none')}</td>
              <td title={r.action} data-testid="audit-action" data-action={r.action}>
                {auditActionLabel(t, r.action)}
              </td>
              <td>
                <Target record={r} />
              </td>
              <td className="nowrap">
                <span className={`badge badge-${r.outcome}`}>{t(`audit.outcome.${r.outcome}`)}</span>
                {r.status_code !== null && <span className="muted small"> {r.status_code}</span>}
              </td>
              <td className="mono small">{r.request_id}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
