import { eq } from 'drizzle-orm';
import type {
  DeliveryRow,
  DeliveryStatus,
  DeliveryStore,
  DriftResultQuery,
  DriftStore,
  LeaseRow,
  LeaseStore,
  StoredDriftResult,
  ThresholdOverrideRow,
  ThresholdStore,
} from '../types.js';
import type { PgConn } from './client.js';
import { leases, thresholdOverrides } from './schema/index.js';

export class PgDrift implements DriftStore {
  constructor(private readonly c: PgConn) {}

  async upsertResult(r: StoredDriftResult): Promise<number> {
    const rows = await this.c.rows<{ id: number }>(
      `INSERT INTO drift_results (model, model_version, baseline_id, window_kind, window_from, window_to, n, drifted,
         drifted_share, result, evaluated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (model, model_version, baseline_id, window_kind, window_from, window_to) DO UPDATE SET
         n = excluded.n, drifted = excluded.drifted, drifted_share = excluded.drifted_share, result = excluded.result,
         evaluated_at = excluded.evaluated_at
       RETURNING id`,
      [
        r.model,
        r.modelVersion,
        r.baselineId,
        r.windowKind,
        r.windowFrom,
        r.windowTo,
        r.n,
        r.drifted,
        r.driftedShare,
        r.result,
        r.evaluatedAt,
      ],
    );
    const id = rows[0]?.id;
    if (id === undefined) throw new Error('drift result upsert returned no id');
    return id;
  }

  async list(q: DriftResultQuery): Promise<{ id: number; result: string }[]> {
    return this.c.rows<{ id: number; result: string }>(
      `SELECT id, result FROM drift_results WHERE model = $1
         AND ($2::int8 IS NULL OR window_to > $2) AND ($3::int8 IS NULL OR window_from < $3)
         AND ($4::text IS NULL OR window_kind = $4) AND ($5::text IS NULL OR model_version = $5)
       ORDER BY window_to DESC, id DESC LIMIT $6`,
      [q.model, q.from ?? null, q.to ?? null, q.kind ?? null, q.modelVersion ?? null, q.limit],
    );
  }

  async latest(model: string): Promise<{ id: number; result: string }[]> {
    // One row per version: the most recently evaluated; ties go to the window that ends last, then the newest
    // row (as in the SQLite store). Versions in byte order (COLLATE "C"), as SQLite sorts them.
    return this.c.rows<{ id: number; result: string }>(
      `SELECT id, result FROM (
         SELECT DISTINCT ON (model_version) model_version, id, result FROM drift_results WHERE model = $1
         ORDER BY model_version, evaluated_at DESC, window_to DESC, id DESC) t
       ORDER BY model_version COLLATE "C"`,
      [model],
    );
  }

  async lastRun(model: string): Promise<{ windowTo: number; evaluatedAt: number } | null> {
    const rows = await this.c.rows<{
      window_to: string | number | null;
      evaluated_at: string | number | null;
    }>(
      `SELECT max(window_to) AS window_to, max(evaluated_at) AS evaluated_at FROM drift_results
       WHERE model = $1 AND window_to = (SELECT max(window_to) FROM drift_results WHERE model = $1)`,
      [model],
    );
    const r = rows[0];
    return r && r.window_to !== null && r.evaluated_at !== null
      ? { windowTo: Number(r.window_to), evaluatedAt: Number(r.evaluated_at) }
      : null;
  }
}

export class PgThresholds implements ThresholdStore {
  constructor(private readonly c: PgConn) {}

  async overrides(model: string): Promise<ThresholdOverrideRow[]> {
    return this.c.orm.select().from(thresholdOverrides).where(eq(thresholdOverrides.model, model));
  }

  async upsert(row: ThresholdOverrideRow): Promise<void> {
    await this.c.orm
      .insert(thresholdOverrides)
      .values(row)
      .onConflictDoUpdate({
        target: [thresholdOverrides.model, thresholdOverrides.feature],
        set: {
          psiWarning: row.psiWarning,
          psiCritical: row.psiCritical,
          alpha: row.alpha,
          setBy: row.setBy,
          reason: row.reason,
          updatedAt: row.updatedAt,
        },
      });
  }
}

const DELIVERY_COLUMNS = `id, channel, event, payload, status, attempts, next_attempt_at AS "nextAttemptAt",
  last_error AS "lastError", created_at AS "createdAt", delivered_at AS "deliveredAt"`;

export class PgDeliveries implements DeliveryStore {
  constructor(private readonly c: PgConn) {}

  async insert(d: { channel: string; event: string; payload: string; now: number }): Promise<number> {
    const rows = await this.c.rows<{ id: number }>(
      `INSERT INTO deliveries (channel, event, payload, status, attempts, next_attempt_at, created_at)
       VALUES ($1, $2, $3, 'pending', 0, $4, $4) RETURNING id`,
      [d.channel, d.event, d.payload, d.now],
    );
    const id = rows[0]?.id;
    if (id === undefined) throw new Error('delivery insert returned no id');
    return id;
  }

  /**
   * Due deliveries in queue order; a channel's delivery waiting for a retry holds back its later ones.
   *
   * No FOR UPDATE SKIP LOCKED here, deliberately. The delivery tick reads this in a read-only transaction
   * (store.read), where PostgreSQL refuses row locks, and it sends after that transaction has ended, so
   * row locks would not cover the sending anyway. And SKIP LOCKED would break the rule above: a second
   * reader skipping a channel's locked earlier delivery would get that channel's later ones and send them
   * out of order. One sender at a time is ensured by the delivery lease (leases table) that the tick takes
   * before calling this; the outcome is then recorded by id (markDelivered / markAttemptFailed).
   */
  async due(now: number, limit: number): Promise<DeliveryRow[]> {
    return this.c.rows<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM deliveries d WHERE status = 'pending' AND next_attempt_at <= $1
         AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = d.channel AND e.status = 'pending'
                         AND e.id < d.id AND e.next_attempt_at > $1)
       ORDER BY id LIMIT $2`,
      [now, limit],
    );
  }

  async markDelivered(id: number, attempts: number, now: number): Promise<void> {
    await this.c.run(
      `UPDATE deliveries SET status = 'delivered', attempts = $1, delivered_at = $2 WHERE id = $3`,
      [attempts, now, id],
    );
  }

  async markAttemptFailed(
    id: number,
    f: { status: 'pending' | 'failed'; attempts: number; lastError: string; nextAttemptAt: number },
  ): Promise<void> {
    await this.c.run(
      'UPDATE deliveries SET status = $1, attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $5',
      [f.status, f.attempts, f.lastError, f.nextAttemptAt, id],
    );
  }

  async get(id: number): Promise<DeliveryRow | undefined> {
    const rows = await this.c.rows<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = $1`, [
      id,
    ]);
    return rows[0];
  }

  async list(q: {
    status?: DeliveryStatus | undefined;
    channel?: string | undefined;
    limit: number;
  }): Promise<DeliveryRow[]> {
    return this.c.rows<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ($1::text IS NULL OR status = $1)
         AND ($2::text IS NULL OR channel = $2) ORDER BY id DESC LIMIT $3`,
      [q.status ?? null, q.channel ?? null, q.limit],
    );
  }

  async requeueFailed(id: number, now: number): Promise<boolean> {
    return (
      (await this.c.run(
        `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1 WHERE id = $2 AND status = 'failed'`,
        [now, id],
      )) === 1
    );
  }

  async pendingOf(channel: string, event: string): Promise<{ id: number } | undefined> {
    const rows = await this.c.rows<{ id: number }>(
      `SELECT id FROM deliveries WHERE channel = $1 AND event = $2 AND status = 'pending' ORDER BY id DESC LIMIT 1`,
      [channel, event],
    );
    return rows[0];
  }

  async replacePayload(id: number, payload: string): Promise<void> {
    await this.c.run('UPDATE deliveries SET payload = $1 WHERE id = $2', [payload, id]);
  }

  async delete(id: number): Promise<void> {
    await this.c.run('DELETE FROM deliveries WHERE id = $1', [id]);
  }
}

export class PgLeases implements LeaseStore {
  constructor(private readonly c: PgConn) {}

  /**
   * One statement: a concurrent acquire of the same name waits for the row lock (or, for a new name, for
   * the other insert), then evaluates the WHERE against the row as the other left it.
   */
  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const rows = await this.c.rows<{ holder: string }>(
      `INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET
         acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
         holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at < $4
       RETURNING holder`,
      [name, holder, now + ttlMs, now],
    );
    return rows[0]?.holder === holder;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.c.run('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async get(name: string): Promise<LeaseRow | undefined> {
    const rows = await this.c.orm.select().from(leases).where(eq(leases.name, name));
    return rows[0];
  }
}
