import type { PendingEventRow, PendingEventStore } from '../types.js';
import type { Connection } from './client.js';

const COLUMNS = `model, event_id AS eventId, kind, received_at AS receivedAt, event_time AS eventTime, data, attrs`;

export class SqlitePendingEvents implements PendingEventStore {
  constructor(private readonly c: Connection) {}

  async offer(row: PendingEventRow): Promise<{ stored: boolean; existing?: PendingEventRow }> {
    const inserted = this.c
      .prepared(
        `INSERT INTO pending_events (model, event_id, kind, received_at, event_time, data, attrs)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, event_id) DO NOTHING`,
      )
      .run(row.model, row.eventId, row.kind, row.receivedAt, row.eventTime, row.data, row.attrs).changes;
    if (inserted === 1) return { stored: true };
    const existing = this.c
      .prepared(`SELECT ${COLUMNS} FROM pending_events WHERE model = ? AND event_id = ?`)
      .get(row.model, row.eventId) as PendingEventRow | undefined;
    return existing ? { stored: false, existing } : { stored: false };
  }

  async remove(model: string, eventId: string, kind: PendingEventRow['kind']): Promise<boolean> {
    return (
      this.c
        .prepared('DELETE FROM pending_events WHERE model = ? AND event_id = ? AND kind = ?')
        .run(model, eventId, kind).changes === 1
    );
  }

  async count(): Promise<number> {
    return (this.c.prepared('SELECT count(*) AS n FROM pending_events').get() as { n: number }).n;
  }

  async expired(cutoff: number, limit: number): Promise<PendingEventRow[]> {
    return this.c
      .prepared(
        `SELECT ${COLUMNS} FROM pending_events WHERE received_at <= ? ORDER BY received_at, model, event_id LIMIT ?`,
      )
      .all(cutoff, limit) as PendingEventRow[];
  }
}
