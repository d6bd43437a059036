import { and, desc, eq, ne } from 'drizzle-orm';
import {
  type ActivationRow,
  type ActiveColumnRow,
  type AggregateDelta,
  type AggregateRow,
  type AggregateStore,
  type BaselineColumnRow,
  type BaselineRow,
  type BaselineStore,
  type BucketKey,
  type BucketStatsDelta,
  type ChangedBucket,
  MAX_EXTRA_PER_BUCKET,
  type Outcomes,
  type TrafficDelta,
  type TrafficRow,
  type WindowKey,
} from '../types.js';
import type { Connection } from './client.js';
import { activations, baselineColumns, baselines } from './schema/index.js';

const toBlob = (counts: Uint32Array) => Buffer.from(counts.buffer, counts.byteOffset, counts.byteLength);
const fromBlob = (blob: Buffer) =>
  new Uint32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));

export class SqliteAggregates implements AggregateStore {
  constructor(private readonly c: Connection) {}

  async add(deltas: readonly AggregateDelta[], now: number): Promise<void> {
    // One upsert per delta; the database adds counts (dw_add_counts) and tallies, so nothing is read back.
    const stmt = this.c.prepared(
      `INSERT INTO aggregates (model, model_version, baseline_id, bucket_start, bucket_ms, role, name, n, missing,
         type_mismatch, out_of_range, unseen, off_edge, vmin, vmax, counts, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, baseline_id, bucket_start, bucket_ms, role, name) DO UPDATE SET
         n = aggregates.n + excluded.n, missing = aggregates.missing + excluded.missing,
         type_mismatch = aggregates.type_mismatch + excluded.type_mismatch,
         out_of_range = aggregates.out_of_range + excluded.out_of_range, unseen = aggregates.unseen + excluded.unseen,
         off_edge = aggregates.off_edge + excluded.off_edge,
         vmin = min(coalesce(aggregates.vmin, excluded.vmin), coalesce(excluded.vmin, aggregates.vmin)),
         vmax = max(coalesce(aggregates.vmax, excluded.vmax), coalesce(excluded.vmax, aggregates.vmax)),
         counts = dw_add_counts(aggregates.counts, excluded.counts),
         updated_at = max(aggregates.updated_at, excluded.updated_at)`,
    );
    // A feature outside the baseline gets a row only while its bucket has fewer than MAX_EXTRA_PER_BUCKET
    // such names (counted in the database, so the cap holds across requests and writers).
    const extra = this.c.prepared(
      `INSERT INTO aggregates (model, model_version, baseline_id, bucket_start, bucket_ms, role, name, n, missing,
         type_mismatch, out_of_range, unseen, off_edge, vmin, vmax, counts, updated_at)
       SELECT @model, @version, @baseline, @start, @ms, 'extra', @name, @n, 0, 0, 0, 0, 0, NULL, NULL, x'', @now
       WHERE EXISTS (SELECT 1 FROM aggregates WHERE model = @model AND model_version = @version AND baseline_id = @baseline
                       AND bucket_start = @start AND bucket_ms = @ms AND role = 'extra' AND name = @name)
          OR (SELECT count(*) FROM aggregates WHERE model = @model AND model_version = @version AND baseline_id = @baseline
                AND bucket_start = @start AND bucket_ms = @ms AND role = 'extra') < @cap
       ON CONFLICT (model, model_version, baseline_id, bucket_start, bucket_ms, role, name) DO UPDATE SET
         n = aggregates.n + excluded.n, updated_at = max(aggregates.updated_at, excluded.updated_at)`,
    );
    for (const d of deltas) {
      if (d.role === 'extra') {
        extra.run({
          model: d.model,
          version: d.modelVersion,
          baseline: d.baselineId,
          start: d.bucketStart,
          ms: d.bucketMs,
          name: d.name,
          n: d.n,
          now,
          cap: MAX_EXTRA_PER_BUCKET,
        });
        continue;
      }
      stmt.run(
        d.model,
        d.modelVersion,
        d.baselineId,
        d.bucketStart,
        d.bucketMs,
        d.role,
        d.name,
        d.n,
        d.missing,
        d.typeMismatch,
        d.outOfRange,
        d.unseen,
        d.offEdge,
        d.vmin,
        d.vmax,
        toBlob(d.counts),
        now,
      );
    }
  }

  async addBucketStats(list: readonly BucketStatsDelta[], now: number): Promise<void> {
    const stmt = this.c.prepared(
      `INSERT INTO bucket_stats (model, model_version, bucket_start, bucket_ms, records, labeled, classified, correct,
         regressed, abs_err_sum, sq_err_sum, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, bucket_start, bucket_ms) DO UPDATE SET
         records = bucket_stats.records + excluded.records, labeled = bucket_stats.labeled + excluded.labeled,
         classified = bucket_stats.classified + excluded.classified, correct = bucket_stats.correct + excluded.correct,
         regressed = bucket_stats.regressed + excluded.regressed,
         abs_err_sum = bucket_stats.abs_err_sum + excluded.abs_err_sum,
         sq_err_sum = bucket_stats.sq_err_sum + excluded.sq_err_sum, updated_at = excluded.updated_at`,
    );
    for (const s of list) {
      stmt.run(
        s.model,
        s.modelVersion,
        s.bucketStart,
        s.bucketMs,
        s.records,
        s.labeled,
        s.classified,
        s.correct,
        s.regressed,
        s.absErrSum,
        s.sqErrSum,
        now,
      );
    }
  }

  /** Transactions run one at a time on SQLite: nothing to lock. */
  async lockBucketStats(_k: BucketKey): Promise<void> {}

  async setOutcomes(k: BucketKey, o: Omit<Outcomes, 'records'>, now: number): Promise<void> {
    this.c
      .prepared(
        `INSERT INTO bucket_stats (model, model_version, bucket_start, bucket_ms, records, labeled, classified, correct,
           regressed, abs_err_sum, sq_err_sum, updated_at)
         VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (model, model_version, bucket_start, bucket_ms) DO UPDATE SET
           labeled = excluded.labeled, classified = excluded.classified, correct = excluded.correct,
           regressed = excluded.regressed, abs_err_sum = excluded.abs_err_sum, sq_err_sum = excluded.sq_err_sum,
           updated_at = excluded.updated_at`,
      )
      .run(
        k.model,
        k.modelVersion,
        k.bucketStart,
        k.bucketMs,
        o.labeled,
        o.classified,
        o.correct,
        o.regressed,
        o.absErrSum,
        o.sqErrSum,
        now,
      );
  }

  async clear(model: string, baselineId: number): Promise<void> {
    this.c.prepared('DELETE FROM aggregates WHERE model = ? AND baseline_id = ?').run(model, baselineId);
  }

  async window(k: WindowKey): Promise<AggregateRow[]> {
    const rows = this.c
      .prepared(
        `SELECT role, name, n, missing, type_mismatch AS typeMismatch, out_of_range AS outOfRange, unseen, off_edge AS offEdge,
           vmin, vmax, counts FROM aggregates
         WHERE model = ? AND model_version = ? AND baseline_id = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?`,
      )
      .all(k.model, k.modelVersion, k.baselineId, k.bucketMs, k.from, k.to) as (Omit<
      AggregateRow,
      'counts'
    > & { counts: Buffer })[];
    return rows.map((r) => ({ ...r, counts: fromBlob(r.counts) }));
  }

  async windowOutcomes(k: Omit<WindowKey, 'baselineId'>): Promise<Outcomes> {
    return this.c
      .prepared(
        `SELECT coalesce(sum(records), 0) AS records, coalesce(sum(labeled), 0) AS labeled,
           coalesce(sum(classified), 0) AS classified, coalesce(sum(correct), 0) AS correct,
           coalesce(sum(regressed), 0) AS regressed, coalesce(sum(abs_err_sum), 0) AS absErrSum,
           coalesce(sum(sq_err_sum), 0) AS sqErrSum
         FROM bucket_stats WHERE model = ? AND model_version = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?`,
      )
      .get(k.model, k.modelVersion, k.bucketMs, k.from, k.to) as Outcomes;
  }

  async versionsWithData(model: string, bucketMs: number, from: number, to: number): Promise<string[]> {
    return (
      this.c
        .prepared(
          'SELECT DISTINCT model_version AS v FROM bucket_stats WHERE model = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?',
        )
        .all(model, bucketMs, from, to) as { v: string }[]
    ).map((r) => r.v);
  }

  async markChanged(keys: readonly BucketKey[]): Promise<void> {
    if (keys.length === 0) return;
    // One store-wide counter, so a bucket's seq only ever grows — also when its row was taken and comes back.
    const seq = Number(
      (
        this.c
          .prepared(
            `INSERT INTO job_state (key, value, updated_at) VALUES ('changes.seq', '1', 0)
             ON CONFLICT (key) DO UPDATE SET value = CAST(job_state.value AS INTEGER) + 1 RETURNING value`,
          )
          .get() as { value: string | number }
      ).value,
    );
    const stmt = this.c.prepared(
      `INSERT INTO changed_buckets (model, model_version, bucket_start, bucket_ms, seq, rolled_seq) VALUES (?, ?, ?, ?, ?, 0)
       ON CONFLICT (model, model_version, bucket_start, bucket_ms) DO UPDATE SET seq = excluded.seq`,
    );
    for (const k of keys) stmt.run(k.model, k.modelVersion, k.bucketStart, k.bucketMs, seq);
  }

  async changed(limit: number): Promise<ChangedBucket[]> {
    return this.c
      .prepared(
        `SELECT model, model_version AS modelVersion, bucket_start AS bucketStart, bucket_ms AS bucketMs, seq, rolled_seq AS rolledSeq
         FROM changed_buckets ORDER BY model, model_version, bucket_start LIMIT ?`,
      )
      .all(limit) as ChangedBucket[];
  }

  async takeChanged(k: BucketKey, seq: number): Promise<void> {
    this.c
      .prepared(
        'DELETE FROM changed_buckets WHERE model = ? AND model_version = ? AND bucket_start = ? AND bucket_ms = ? AND seq = ?',
      )
      .run(k.model, k.modelVersion, k.bucketStart, k.bucketMs, seq);
  }

  async markRolled(k: BucketKey, seq: number): Promise<void> {
    this.c
      .prepared(
        `UPDATE changed_buckets SET rolled_seq = ? WHERE model = ? AND model_version = ? AND bucket_start = ? AND bucket_ms = ?
           AND rolled_seq < ?`,
      )
      .run(seq, k.model, k.modelVersion, k.bucketStart, k.bucketMs, seq);
  }

  async addTraffic(list: readonly TrafficDelta[], now: number): Promise<void> {
    // Additive upsert: the database adds the scalars and the histograms (dw_add_counts keeps the longer tail).
    const stmt = this.c.prepared(
      `INSERT INTO traffic (model, model_version, bucket_start, bucket_ms, requests, errors, latency_count, latency_sum,
         latency_counts, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, bucket_start, bucket_ms) DO UPDATE SET
         requests = traffic.requests + excluded.requests, errors = traffic.errors + excluded.errors,
         latency_count = traffic.latency_count + excluded.latency_count,
         latency_sum = traffic.latency_sum + excluded.latency_sum,
         latency_counts = dw_add_counts(traffic.latency_counts, excluded.latency_counts),
         updated_at = max(traffic.updated_at, excluded.updated_at)`,
    );
    for (const t of list) {
      stmt.run(
        t.model,
        t.modelVersion,
        t.bucketStart,
        t.bucketMs,
        t.requests,
        t.errors,
        t.latencyCount,
        t.latencySum,
        toBlob(t.latencyCounts),
        now,
      );
    }
  }

  async traffic(q: {
    model: string;
    modelVersion?: string | undefined;
    bucketMs: number;
    from: number;
    to: number;
  }): Promise<TrafficRow[]> {
    const rows = this.c
      .prepared(
        `SELECT model_version AS modelVersion, bucket_start AS bucketStart, requests, errors, latency_count AS latencyCount,
           latency_sum AS latencySum, latency_counts AS latencyCounts FROM traffic
         WHERE model = ? AND (? IS NULL OR model_version = ?) AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?
         ORDER BY bucket_start, model_version`,
      )
      .all(q.model, q.modelVersion ?? null, q.modelVersion ?? null, q.bucketMs, q.from, q.to) as (Omit<
      TrafficRow,
      'latencyCounts'
    > & { latencyCounts: Buffer })[];
    return rows.map((r) => ({ ...r, latencyCounts: fromBlob(r.latencyCounts) }));
  }
}

export class SqliteBaselines implements BaselineStore {
  constructor(private readonly c: Connection) {}

  async insert(
    row: Omit<BaselineRow, 'id' | 'activatedAt'>,
    columns: readonly BaselineColumnRow[],
  ): Promise<BaselineRow> {
    const inserted = this.c.orm.insert(baselines).values(row).returning().get();
    for (const col of columns) {
      this.c.orm
        .insert(baselineColumns)
        .values({ baselineId: inserted.id, role: col.role, name: col.name, profile: col.profile })
        .run();
    }
    return inserted;
  }

  async list(model: string): Promise<BaselineRow[]> {
    return this.c.orm
      .select()
      .from(baselines)
      .where(eq(baselines.model, model))
      .orderBy(desc(baselines.id))
      .all();
  }

  async get(model: string, id: number): Promise<BaselineRow | undefined> {
    return this.c.orm
      .select()
      .from(baselines)
      .where(and(eq(baselines.model, model), eq(baselines.id, id)))
      .get();
  }

  async columns(id: number): Promise<BaselineColumnRow[]> {
    return this.c.orm
      .select({ role: baselineColumns.role, name: baselineColumns.name, profile: baselineColumns.profile })
      .from(baselineColumns)
      .where(eq(baselineColumns.baselineId, id))
      .all();
  }

  async hasActive(model: string, modelVersion: string): Promise<boolean> {
    return (
      this.c.orm
        .select({ id: baselines.id })
        .from(baselines)
        .where(
          and(
            eq(baselines.model, model),
            eq(baselines.modelVersion, modelVersion),
            eq(baselines.active, true),
          ),
        )
        .get() !== undefined
    );
  }

  async markActive(row: BaselineRow, now: number): Promise<void> {
    this.c.orm
      .update(baselines)
      .set({ active: false, activatedAt: null })
      .where(
        and(
          eq(baselines.model, row.model),
          eq(baselines.modelVersion, row.modelVersion),
          ne(baselines.id, row.id),
        ),
      )
      .run();
    this.c.orm
      .update(baselines)
      .set({ active: true, activatedAt: now })
      .where(eq(baselines.id, row.id))
      .run();
  }

  async activeStamp(model: string): Promise<string> {
    const row = this.c
      .prepared(
        'SELECT count(*) AS n, coalesce(max(activated_at), 0) AS at, coalesce(max(id), 0) AS id FROM baselines WHERE model = ? AND active = 1',
      )
      .get(model) as { n: number; at: number; id: number };
    return `${row.n}:${row.at}:${row.id}`;
  }

  async activeColumns(model: string): Promise<ActiveColumnRow[]> {
    return this.c
      .prepared(
        `SELECT b.id AS baselineId, b.model_version AS modelVersion, c.role, c.name, c.profile FROM baselines b
         JOIN baseline_columns c ON c.baseline_id = b.id
         WHERE b.model = ? AND b.active = 1 ORDER BY b.activated_at DESC, b.id DESC`,
      )
      .all(model) as ActiveColumnRow[];
  }

  async featureNames(model: string): Promise<string[]> {
    return (
      this.c
        .prepared(
          `SELECT DISTINCT c.name FROM baseline_columns c JOIN baselines b ON b.id = c.baseline_id
           WHERE b.model = ? AND c.role = 'feature' ORDER BY c.name`,
        )
        .all(model) as { name: string }[]
    ).map((r) => r.name);
  }

  async activeFeatureNames(model: string): Promise<string[]> {
    return (
      this.c
        .prepared(
          `SELECT DISTINCT c.name FROM baseline_columns c JOIN baselines b ON b.id = c.baseline_id
           WHERE b.model = ? AND b.active = 1 AND c.role = 'feature' ORDER BY c.name`,
        )
        .all(model) as { name: string }[]
    ).map((r) => r.name);
  }

  async beginActivation(row: ActivationRow): Promise<boolean> {
    const inserted = this.c.orm
      .insert(activations)
      .values(row)
      .onConflictDoNothing()
      .returning({ model: activations.model })
      .all();
    return inserted.length === 1;
  }

  async activation(model: string): Promise<ActivationRow | undefined> {
    return this.c.orm.select().from(activations).where(eq(activations.model, model)).get();
  }

  async activations(): Promise<ActivationRow[]> {
    return this.c.orm.select().from(activations).orderBy(activations.startedAt).all();
  }

  async advanceActivation(
    model: string,
    from: number,
    to: number,
    done: number,
    now: number,
  ): Promise<boolean> {
    return (
      this.c
        .prepared(
          'UPDATE activations SET cursor = ?, done = done + ?, updated_at = ? WHERE model = ? AND cursor = ?',
        )
        .run(to, done, now, model, from).changes === 1
    );
  }

  async finishActivation(model: string): Promise<void> {
    this.c.prepared('DELETE FROM activations WHERE model = ?').run(model);
  }
}
