/**
 * Audit shapes the generated schema does not have yet (issue 20: the record's workspace and
 * cluster, the new filters). When `make schema` regenerates src/api/schema.ts, these become the
 * same as the generated ones and can go.
 */
import type { AuditQuery, AuditRecord } from '../api/types';

/** Where a record happened: the id (null when only the name was recorded) and the name then. */
export interface AuditScope {
  id: number | null;
  name: string;
}

export type ScopedAuditRecord = AuditRecord & {
  workspace?: AuditScope | null;
  cluster?: AuditScope | null;
};

export type ScopedAuditQuery = AuditQuery & {
  target?: string;
  workspace?: string;
  cluster?: string;
};
