import type { ShadowStatsDelta } from '../types.js';
import type { Connection } from './client.js';

/** Adds shadow comparison counts into their buckets (additive upsert). */
export async function addShadowStats(
  c: Connection,
  list: readonly ShadowStatsDelta[],
  now: number,
): Promise<void> {
  const stmt = c.prepared(
    `INSERT INTO shadow_stats (model, active_version, shadow_version, bucket_start, bucket_ms, n, agree, abs_diff_sum,
       active_latency_sum, shadow_latency_sum, errors, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (model, active_version, shadow_version, bucket_start, bucket_ms) DO UPDATE SET
       n = shadow_stats.n + excluded.n, agree = shadow_stats.agree + excluded.agree,
       abs_diff_sum = shadow_stats.abs_diff_sum + excluded.abs_diff_sum,
       active_latency_sum = shadow_stats.active_latency_sum + excluded.active_latency_sum,
       shadow_latency_sum = shadow_stats.shadow_latency_sum + excluded.shadow_latency_sum,
       errors = shadow_stats.errors + excluded.errors, updated_at = excluded.updated_at`,
  );
  for (const s of list) {
    stmt.run(
      s.model,
      s.activeVersion,
      s.shadowVersion,
      s.bucketStart,
      s.bucketMs,
      s.n,
      s.agree,
      s.absDiffSum,
      s.activeLatencySum,
      s.shadowLatencySum,
      s.errors,
      now,
    );
  }
}
