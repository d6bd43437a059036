import { bytewise, insertInto, type Sql, selectList } from '../sql.js';
import type { PendingEventRow, PendingEventStore } from '../types.js';
import { pendingEvents } from './tables.js';

const COLUMNS = selectList(pendingEvents);

export class PendingEvents implements PendingEventStore {
  constructor(private readonly db: Sql) {}

  async offer(row: PendingEventRow): Promise<{ stored: boolean; existing?: PendingEventRow }> {
    // On PostgreSQL a conflicting row another transaction has not committed yet makes this INSERT wait for
    // it; once it commits, the conflict is seen and the row read below (READ COMMITTED sees it).
    const ins = insertInto(pendingEvents, row);
    const inserted = await this.db.run(`${ins.text} ON CONFLICT (model, event_id) DO NOTHING`, ins.params);
    if (inserted === 1) return { stored: true };
    const existing = await this.db.one<PendingEventRow>(
      `SELECT ${COLUMNS} FROM pending_events WHERE model = ? AND event_id = ?`,
      [row.model, row.eventId],
    );
    return existing ? { stored: false, existing } : { stored: false };
  }

  async remove(model: string, eventId: string, kind: PendingEventRow['kind']): Promise<boolean> {
    const changed = await this.db.run(
      'DELETE FROM pending_events WHERE model = ? AND event_id = ? AND kind = ?',
      [model, eventId, kind],
    );
    return changed === 1;
  }

  async count(): Promise<number> {
    const row = await this.db.one<{ n: number }>('SELECT count(*) AS n FROM pending_events');
    return row?.n ?? 0;
  }

  async expired(cutoff: number, limit: number): Promise<PendingEventRow[]> {
    const c = bytewise(this.db);
    return this.db.rows(
      `SELECT ${COLUMNS} FROM pending_events WHERE received_at <= ?
       ORDER BY received_at, model${c}, event_id${c} LIMIT ?`,
      [cutoff, limit],
    );
  }
}
