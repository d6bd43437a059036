import type { Database } from '../db/client.js';
import { prepared } from '../db/statements.js';

/** Deletes up to `limit` rows of `table` received before `cutoff`; returns how many went. */
export function pruneSlice(db: Database, table: 'records' | 'rejections', cutoff: number, limit: number): number {
  return prepared(db, `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE received_at < ? LIMIT ${limit})`).run(cutoff)
    .changes;
}
