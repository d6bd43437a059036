import { type Sql, selectList, whereAll } from '../sql.js';
import type { RejectionRow } from '../types.js';
import { rejections } from './tables.js';

// Rejected ingest items: the reads and retention of both RecordStores (their inserts differ by dialect).

const COLUMNS = selectList(rejections);

export function listRejections(
  db: Sql,
  q: { model?: string | undefined; limit: number; before?: number | undefined },
): Promise<RejectionRow[]> {
  const where = whereAll([
    q.model !== undefined && ['model = ?', q.model],
    q.before !== undefined && ['id < ?', q.before],
  ]);
  return db.rows(`SELECT ${COLUMNS} FROM rejections ${where.text} ORDER BY id DESC LIMIT ?`, [
    ...where.params,
    q.limit,
  ]);
}

export function pruneRejections(db: Sql, cutoff: number, limit: number): Promise<number> {
  return db.run(
    'DELETE FROM rejections WHERE id IN (SELECT id FROM rejections WHERE received_at < ? LIMIT ?)',
    [cutoff, limit],
  );
}
