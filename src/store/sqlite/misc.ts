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
import type { Connection } from './client.js';
import { leases, thresholdOverrides } from './schema/index.js';

export class SqliteDrift implements DriftStore {
  constructor(private readonly c: Connection) {}

  async upsertResult(r: StoredDriftResult): Promise<number> {
    const row = this.c
      .prepared(
        `INSERT INTO drift_results (model, model_version, baseline_id, window_kind, window_from, window_to, n, drifted,
           drifted_share, result, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (model, model_version, baseline_id, window_kind, window_from, window_to) DO UPDATE SET
           n = excluded.n, drifted = excluded.drifted, drifted_share = excluded.drifted_share, result = excluded.result,
           evaluated_at = excluded.evaluated_at
         RETURNING id`,
      )
      .get(
        r.model,
        r.modelVersion,
        r.baselineId,
        r.windowKind,
        r.windowFrom,
        r.windowTo,
        r.n,
        r.drifted === null ? null : r.drifted ? 1 : 0,
        r.driftedShare,
        r.result,
        r.evaluatedAt,
      ) as { id: number };
    return row.id;
  }

  async list(q: DriftResultQuery): Promise<{ id: number; result: string }[]> {
    return this.c
      .prepared(
        `SELECT id, result FROM drift_results WHERE model = @model
           AND (@from IS NULL OR window_to > @from) AND (@to IS NULL OR window_from < @to)
           AND (@kind IS NULL OR window_kind = @kind) AND (@version IS NULL OR model_version = @version)
         ORDER BY window_to DESC, id DESC LIMIT @limit`,
      )
      .all({
        model: q.model,
        from: q.from ?? null,
        to: q.to ?? null,
        kind: q.kind ?? null,
        version: q.modelVersion ?? null,
        limit: q.limit,
      }) as { id: number; result: string }[];
  }

  async latest(model: string): Promise<{ id: number; result: string }[]> {
    return this.c
      .prepared(
        // Ties (one tick evaluates several windows at the same time) go to the window that ends last, then
        // the newest row — the same rule as the PostgreSQL store.
        `SELECT id, result FROM (
           SELECT id, result, model_version, row_number() OVER (
             PARTITION BY model_version ORDER BY evaluated_at DESC, window_to DESC, id DESC) AS rn
           FROM drift_results WHERE model = @model)
         WHERE rn = 1 ORDER BY model_version`,
      )
      .all({ model }) as { id: number; result: string }[];
  }

  async lastRun(model: string): Promise<{ windowTo: number; evaluatedAt: number } | null> {
    const row = this.c
      .prepared(
        `SELECT window_to AS windowTo, max(evaluated_at) AS evaluatedAt FROM drift_results
         WHERE model = @model AND window_to = (SELECT max(window_to) FROM drift_results WHERE model = @model)`,
      )
      .get({ model }) as { windowTo: number | null; evaluatedAt: number | null } | undefined;
    return row && row.windowTo !== null && row.evaluatedAt !== null
      ? { windowTo: row.windowTo, evaluatedAt: row.evaluatedAt }
      : null;
  }
}

export class SqliteThresholds implements ThresholdStore {
  constructor(private readonly c: Connection) {}

  async overrides(model: string): Promise<ThresholdOverrideRow[]> {
    return this.c.orm.select().from(thresholdOverrides).where(eq(thresholdOverrides.model, model)).all();
  }

  async upsert(row: ThresholdOverrideRow): Promise<void> {
    this.c.orm
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
      })
      .run();
  }
}

const DELIVERY_COLUMNS = `id, channel, event, payload, status, attempts, next_attempt_at AS nextAttemptAt, last_error AS lastError,
  created_at AS createdAt, delivered_at AS deliveredAt`;

export class SqliteDeliveries implements DeliveryStore {
  constructor(private readonly c: Connection) {}

  async insert(d: { channel: string; event: string; payload: string; now: number }): Promise<number> {
    const info = this.c
      .prepared(
        `INSERT INTO deliveries (channel, event, payload, status, attempts, next_attempt_at, created_at)
         VALUES (?, ?, ?, 'pending', 0, ?, ?)`,
      )
      .run(d.channel, d.event, d.payload, d.now, d.now);
    return Number(info.lastInsertRowid);
  }

  async due(now: number, limit: number): Promise<DeliveryRow[]> {
    return this.c
      .prepared(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries d WHERE status = 'pending' AND next_attempt_at <= @now
           AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = d.channel AND e.status = 'pending'
                           AND e.id < d.id AND e.next_attempt_at > @now)
         ORDER BY id LIMIT @limit`,
      )
      .all({ now, limit }) as DeliveryRow[];
  }

  async markDelivered(id: number, attempts: number, now: number): Promise<void> {
    this.c
      .prepared(`UPDATE deliveries SET status = 'delivered', attempts = ?, delivered_at = ? WHERE id = ?`)
      .run(attempts, now, id);
  }

  async markAttemptFailed(
    id: number,
    f: { status: 'pending' | 'failed'; attempts: number; lastError: string; nextAttemptAt: number },
  ): Promise<void> {
    this.c
      .prepared(
        'UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?',
      )
      .run(f.status, f.attempts, f.lastError, f.nextAttemptAt, id);
  }

  async get(id: number): Promise<DeliveryRow | undefined> {
    return this.c.prepared(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = ?`).get(id) as
      | DeliveryRow
      | undefined;
  }

  async list(q: {
    status?: DeliveryStatus | undefined;
    channel?: string | undefined;
    limit: number;
  }): Promise<DeliveryRow[]> {
    return this.c
      .prepared(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE (@status IS NULL OR status = @status)
           AND (@channel IS NULL OR channel = @channel) ORDER BY id DESC LIMIT @limit`,
      )
      .all({ status: q.status ?? null, channel: q.channel ?? null, limit: q.limit }) as DeliveryRow[];
  }

  async requeueFailed(id: number, now: number): Promise<boolean> {
    return (
      this.c
        .prepared(
          `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? AND status = 'failed'`,
        )
        .run(now, id).changes === 1
    );
  }

  async pendingOf(channel: string, event: string): Promise<{ id: number } | undefined> {
    return this.c
      .prepared(
        `SELECT id FROM deliveries WHERE channel = ? AND event = ? AND status = 'pending' ORDER BY id DESC LIMIT 1`,
      )
      .get(channel, event) as { id: number } | undefined;
  }

  async replacePayload(id: number, payload: string): Promise<void> {
    this.c.prepared('UPDATE deliveries SET payload = ? WHERE id = ?').run(payload, id);
  }

  async delete(id: number): Promise<void> {
    this.c.prepared('DELETE FROM deliveries WHERE id = ?').run(id);
  }
}

export class SqliteLeases implements LeaseStore {
  constructor(private readonly c: Connection) {}

  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const row = this.c
      .prepared(
        `INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES (@name, @holder, @until, @now)
         ON CONFLICT (name) DO UPDATE SET
           acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
           holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at < @now
         RETURNING holder`,
      )
      .get({ name, holder, until: now + ttlMs, now }) as { holder: string } | undefined;
    return row?.holder === holder;
  }

  async release(name: string, holder: string): Promise<void> {
    this.c.prepared('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
  }

  async get(name: string): Promise<LeaseRow | undefined> {
    return this.c.orm.select().from(leases).where(eq(leases.name, name)).get();
  }
}
