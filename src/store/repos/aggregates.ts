import { compactEncoded, decodeCounts, encodeCounts } from '../counts.js';
import { bytewise, type Sql } from '../sql.js';
import type {
  AggregateDelta,
  AggregateRow,
  AggregateStore,
  BucketKey,
  BucketRange,
  BucketStatsDelta,
  ChangedBucket,
  Outcomes,
  RollupCandidate,
  StoredAggregateRow,
  TrafficDelta,
  TrafficRow,
  WindowKey,
} from '../types.js';
import { bucketsIn, DAY_MS } from './buckets.js';

/** Count vectors are stored sparsely (blob / bytea); dense vectors of older databases still read (see counts.ts). */
export const toBlob = (counts: Uint32Array): Buffer => encodeCounts(counts);
/** The per-bucket tables a rollup merges into day rows. */
const ROLLED_TABLES = ['aggregates', 'bucket_stats', 'comoments', 'performance', 'realized_performance'];

export const fromBlob = (blob: Buffer): Uint32Array => decodeCounts(blob);

/**
 * Aggregates, bucket outcomes, the changed-bucket queue and traffic: the reads and plain writes, written once.
 * The additive merges (and the counter behind markChanged) differ by dialect and live in the subclasses.
 */
export abstract class AggregatesBase implements AggregateStore {
  constructor(private readonly db: Sql) {}

  abstract add(deltas: readonly AggregateDelta[], now: number): Promise<void>;
  abstract addBucketStats(list: readonly BucketStatsDelta[], now: number): Promise<void>;
  abstract lockBucketStats(k: BucketKey): Promise<void>;
  abstract markChanged(keys: readonly BucketKey[]): Promise<void>;
  abstract addTraffic(list: readonly TrafficDelta[], now: number): Promise<void>;

  async setOutcomes(k: BucketKey, o: Omit<Outcomes, 'records'>, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO bucket_stats (model, model_version, bucket_start, bucket_ms, records, labeled, classified, correct,
         regressed, abs_err_sum, sq_err_sum, updated_at)
       VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, bucket_start, bucket_ms) DO UPDATE SET
         labeled = excluded.labeled, classified = excluded.classified, correct = excluded.correct,
         regressed = excluded.regressed, abs_err_sum = excluded.abs_err_sum, sq_err_sum = excluded.sq_err_sum,
         updated_at = excluded.updated_at`,
      [
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
      ],
    );
  }

  async clear(model: string, baselineId: number): Promise<void> {
    await this.db.run('DELETE FROM aggregates WHERE model = ? AND baseline_id = ?', [model, baselineId]);
  }

  async window(k: WindowKey): Promise<AggregateRow[]> {
    return (await this.windowStored(k)).map((r) => ({ ...r, counts: decodeCounts(r.counts) }));
  }

  async windowStored(k: WindowKey): Promise<StoredAggregateRow[]> {
    const [buckets, params] = bucketsIn(k.bucketMs, k.from, k.to);
    return this.db.rows<StoredAggregateRow>(
      `SELECT role, name, n, missing, type_mismatch AS "typeMismatch", out_of_range AS "outOfRange", unseen,
         off_edge AS "offEdge", vmin, vmax, counts FROM aggregates
       WHERE model = ? AND model_version = ? AND baseline_id = ? AND ${buckets}`,
      [k.model, k.modelVersion, k.baselineId, ...params],
    );
  }

  async windowOutcomes(k: Omit<WindowKey, 'baselineId'>): Promise<Outcomes> {
    const [buckets, params] = bucketsIn(k.bucketMs, k.from, k.to);
    const row = await this.db.one<Outcomes>(
      `SELECT coalesce(sum(records), 0) AS records, coalesce(sum(labeled), 0) AS labeled,
         coalesce(sum(classified), 0) AS classified, coalesce(sum(correct), 0) AS correct,
         coalesce(sum(regressed), 0) AS regressed, coalesce(sum(abs_err_sum), 0) AS "absErrSum",
         coalesce(sum(sq_err_sum), 0) AS "sqErrSum"
       FROM bucket_stats WHERE model = ? AND model_version = ? AND ${buckets}`,
      [k.model, k.modelVersion, ...params],
    );
    if (row === undefined) throw new Error('bucket outcomes aggregate returned no row');
    return row;
  }

  async versionsWithData(model: string, bucketMs: number, from: number, to: number): Promise<string[]> {
    const [buckets, params] = bucketsIn(bucketMs, from, to);
    const rows = await this.db.rows<{ v: string }>(
      `SELECT DISTINCT model_version AS v FROM bucket_stats WHERE model = ? AND ${buckets}`,
      [model, ...params],
    );
    return rows.map((r) => r.v);
  }

  async rollupCandidates(before: number): Promise<RollupCandidate[]> {
    const c = bytewise(this.db);
    const of = (table: string) =>
      `SELECT model, model_version, bucket_ms, bucket_start - bucket_start % ${DAY_MS} AS day FROM ${table}
       WHERE bucket_ms < ${DAY_MS} AND bucket_start < ?`;
    return this.db.rows<RollupCandidate>(
      `SELECT model, model_version AS "modelVersion", bucket_ms AS "bucketMs", day FROM (
         ${ROLLED_TABLES.map(of).join(' UNION ')}) AS t
       ORDER BY day, model${c}, model_version${c}, bucket_ms`,
      ROLLED_TABLES.map(() => before),
    );
  }

  async hasDayRow(r: { model: string; modelVersion: string; day: number }): Promise<boolean> {
    const row = await this.db.one<{ one: number }>(
      `SELECT 1 AS one FROM bucket_stats WHERE model = ? AND model_version = ? AND bucket_ms = ${DAY_MS}
         AND bucket_start = ? LIMIT 1`,
      [r.model, r.modelVersion, r.day],
    );
    return row !== undefined;
  }

  async keepsRecords(r: { model: string; modelVersion: string; from: number; to: number }): Promise<boolean> {
    const row = await this.db.one<{ one: number }>(
      'SELECT 1 AS one FROM records WHERE model = ? AND ts >= ? AND ts < ? AND model_version = ? LIMIT 1',
      [r.model, r.from, r.to, r.modelVersion],
    );
    return row !== undefined;
  }

  async take(r: BucketRange): Promise<AggregateDelta[]> {
    // DELETE … RETURNING takes each row once, also from a concurrent rollup (which then finds nothing).
    const rows = await this.db.rows<Omit<AggregateDelta, 'counts'> & { counts: Buffer }>(
      `DELETE FROM aggregates
       WHERE model = ? AND model_version = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?
       RETURNING model, model_version AS "modelVersion", baseline_id AS "baselineId", bucket_start AS "bucketStart",
         bucket_ms AS "bucketMs", role, name, n, missing, type_mismatch AS "typeMismatch",
         out_of_range AS "outOfRange", unseen, off_edge AS "offEdge", vmin, vmax, counts`,
      [r.model, r.modelVersion, r.bucketMs, r.from, r.to],
    );
    return rows
      .map((row) => ({ ...row, counts: fromBlob(row.counts) }))
      .sort((a, b) => a.bucketStart - b.bucketStart);
  }

  async compact(k: {
    model: string;
    modelVersion: string;
    from: number;
    to: number;
    closedBy: number;
  }): Promise<number> {
    const rows = await this.db.rows<{
      baselineId: number;
      start: number;
      ms: number;
      role: string;
      name: string;
      counts: Buffer;
    }>(
      `SELECT baseline_id AS "baselineId", bucket_start AS start, bucket_ms AS ms, role, name, counts FROM aggregates
       WHERE model = ? AND model_version = ? AND bucket_start >= ? AND bucket_start < ? AND bucket_start + bucket_ms <= ?
         AND length(counts) > 256`,
      [k.model, k.modelVersion, k.from, k.to, k.closedBy],
    );
    let done = 0;
    for (const r of rows) {
      const compact = compactEncoded(r.counts);
      if (compact === null) continue;
      done += await this.db.run(
        `UPDATE aggregates SET counts = ? WHERE model = ? AND model_version = ? AND baseline_id = ? AND bucket_start = ?
           AND bucket_ms = ? AND role = ? AND name = ? AND counts = ?`,
        [compact, k.model, k.modelVersion, r.baselineId, r.start, r.ms, r.role, r.name, r.counts],
      );
    }
    return done;
  }

  async takeBucketStats(r: BucketRange): Promise<BucketStatsDelta[]> {
    const rows = await this.db.rows<BucketStatsDelta>(
      `DELETE FROM bucket_stats
       WHERE model = ? AND model_version = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?
       RETURNING model, model_version AS "modelVersion", bucket_start AS "bucketStart", bucket_ms AS "bucketMs",
         records, labeled, classified, correct, regressed, abs_err_sum AS "absErrSum", sq_err_sum AS "sqErrSum"`,
      [r.model, r.modelVersion, r.bucketMs, r.from, r.to],
    );
    return rows.sort((a, b) => a.bucketStart - b.bucketStart);
  }

  async changed(limit: number): Promise<ChangedBucket[]> {
    const c = bytewise(this.db);
    return this.db.rows(
      `SELECT model, model_version AS "modelVersion", bucket_start AS "bucketStart", bucket_ms AS "bucketMs", seq,
         rolled_seq AS "rolledSeq"
       FROM changed_buckets ORDER BY model${c}, model_version${c}, bucket_start LIMIT ?`,
      [limit],
    );
  }

  async takeChanged(k: BucketKey, seq: number): Promise<void> {
    await this.db.run(
      'DELETE FROM changed_buckets WHERE model = ? AND model_version = ? AND bucket_start = ? AND bucket_ms = ? AND seq = ?',
      [k.model, k.modelVersion, k.bucketStart, k.bucketMs, seq],
    );
  }

  async markRolled(k: BucketKey, seq: number): Promise<void> {
    await this.db.run(
      `UPDATE changed_buckets SET rolled_seq = ? WHERE model = ? AND model_version = ? AND bucket_start = ?
         AND bucket_ms = ? AND rolled_seq < ?`,
      [seq, k.model, k.modelVersion, k.bucketStart, k.bucketMs, seq],
    );
  }

  async traffic(q: {
    model: string;
    modelVersion?: string | undefined;
    bucketMs: number;
    from: number;
    to: number;
  }): Promise<TrafficRow[]> {
    const version = q.modelVersion != null;
    const rows = await this.db.rows<Omit<TrafficRow, 'latencyCounts'> & { latencyCounts: Buffer }>(
      `SELECT model_version AS "modelVersion", bucket_start AS "bucketStart", requests, errors,
         latency_count AS "latencyCount", latency_sum AS "latencySum", latency_counts AS "latencyCounts" FROM traffic
       WHERE model = ?${version ? ' AND model_version = ?' : ''} AND bucket_ms = ? AND bucket_start >= ?
         AND bucket_start < ?
       ORDER BY bucket_start, model_version${bytewise(this.db)}`,
      [q.model, ...(version ? [q.modelVersion] : []), q.bucketMs, q.from, q.to],
    );
    return rows.map((r) => ({ ...r, latencyCounts: fromBlob(r.latencyCounts) }));
  }
}
