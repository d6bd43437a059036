import { decodeCounts, encodeCounts } from '../counts.js';
import { bytewise, type Sql } from '../sql.js';
import type {
  AggregateDelta,
  AggregateRow,
  AggregateStore,
  BucketKey,
  BucketStatsDelta,
  ChangedBucket,
  Outcomes,
  StoredAggregateRow,
  TrafficDelta,
  TrafficRow,
  WindowKey,
} from '../types.js';

/** Count vectors are stored sparsely (blob / bytea); dense vectors of older databases still read (see counts.ts). */
export const toBlob = (counts: Uint32Array): Buffer => encodeCounts(counts);
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
    return this.db.rows<StoredAggregateRow>(
      `SELECT role, name, n, missing, type_mismatch AS "typeMismatch", out_of_range AS "outOfRange", unseen,
         off_edge AS "offEdge", vmin, vmax, counts FROM aggregates
       WHERE model = ? AND model_version = ? AND baseline_id = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?`,
      [k.model, k.modelVersion, k.baselineId, k.bucketMs, k.from, k.to],
    );
  }

  async windowOutcomes(k: Omit<WindowKey, 'baselineId'>): Promise<Outcomes> {
    const row = await this.db.one<Outcomes>(
      `SELECT coalesce(sum(records), 0) AS records, coalesce(sum(labeled), 0) AS labeled,
         coalesce(sum(classified), 0) AS classified, coalesce(sum(correct), 0) AS correct,
         coalesce(sum(regressed), 0) AS regressed, coalesce(sum(abs_err_sum), 0) AS "absErrSum",
         coalesce(sum(sq_err_sum), 0) AS "sqErrSum"
       FROM bucket_stats WHERE model = ? AND model_version = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?`,
      [k.model, k.modelVersion, k.bucketMs, k.from, k.to],
    );
    if (row === undefined) throw new Error('bucket outcomes aggregate returned no row');
    return row;
  }

  async versionsWithData(model: string, bucketMs: number, from: number, to: number): Promise<string[]> {
    const rows = await this.db.rows<{ v: string }>(
      'SELECT DISTINCT model_version AS v FROM bucket_stats WHERE model = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?',
      [model, bucketMs, from, to],
    );
    return rows.map((r) => r.v);
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
