import { AggregatesBase, toBlob } from '../repos/aggregates.js';
import {
  type AggregateDelta,
  type BucketKey,
  type BucketStatsDelta,
  MAX_EXTRA_PER_BUCKET,
  type TrafficDelta,
} from '../types.js';
import type { Connection } from './client.js';

export class SqliteAggregates extends AggregatesBase {
  constructor(private readonly c: Connection) {
    super(c);
  }

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
}
