import type { PendingEventRow, PendingEventStore } from '../types.js';
import type { PgConn } from './client.js';

const COLUMNS = `model, event_id AS "eventId", kind, received_at AS "receivedAt", event_time AS "eventTime", data, attrs`;

export class PgPendingEvents implements PendingEventStore {
  constructor(private readonly c: PgConn) {}

  async offer(row: PendingEventRow): Promise<{ stored: boolean; existing?: PendingEventRow }> {
    // A conflicting row another transaction has not committed yet makes this INSERT wait for it; once it
    // commits, the conflict is seen and the row read below (READ COMMITTED sees it).
    const inserted = await this.c.run(
      `INSERT INTO pending_events (model, event_id, kind, received_at, event_time, data, attrs)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (model, event_id) DO NOTHING`,
      [row.model, row.eventId, row.kind, row.receivedAt, row.eventTime, row.data, row.attrs],
    );
    if (inserted === 1) return { stored: true };
    const [existing] = await this.c.rows<PendingEventRow>(
      `SELECT ${COLUMNS} FROM pending_events WHERE model = $1 AND event_id = $2`,
      [row.model, row.eventId],
    );
    return existing ? { stored: false, existing } : { stored: false };
  }

  async remove(model: string, eventId: string, kind: PendingEventRow['kind']): Promise<boolean> {
    return (
      (await this.c.run('DELETE FROM pending_events WHERE model = $1 AND event_id = $2 AND kind = $3', [
        model,
        eventId,
        kind,
      ])) === 1
    );
  }

  async count(): Promise<number> {
    const [row] = await this.c.rows<{ n: number }>('SELECT count(*)::int8 AS n FROM pending_events');
    return row?.n ?? 0;
  }

  async expired(cutoff: number, limit: number): Promise<PendingEventRow[]> {
    return this.c.rows<PendingEventRow>(
      `SELECT ${COLUMNS} FROM pending_events WHERE received_at <= $1
       ORDER BY received_at, model COLLATE "C", event_id COLLATE "C" LIMIT $2`,
      [cutoff, limit],
    );
  }
}
