import type { ShadowStatsDelta } from '../types.js';
import type { PgConn } from './client.js';

/** Adds shadow comparison counts into their buckets (additive upsert). */
export async function addShadowStats(
  c: PgConn,
  list: readonly ShadowStatsDelta[],
  now: number,
): Promise<void> {
  if (list.length === 0) return;
  const rows = [...list].sort((a, b) =>
    `${a.model}\u0000${a.activeVersion}\u0000${a.shadowVersion}\u0000${a.bucketStart}` <
    `${b.model}\u0000${b.activeVersion}\u0000${b.shadowVersion}\u0000${b.bucketStart}`
      ? -1
      : 1,
  );
  await c.run(
    `INSERT INTO shadow_stats (model, active_version, shadow_version, bucket_start, bucket_ms, n, agree, abs_diff_sum,
       active_latency_sum, shadow_latency_sum, errors, updated_at)
     SELECT *, $12::int8 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[],
       $8::float8[], $9::float8[], $10::float8[], $11::int8[])
     ON CONFLICT (model, active_version, shadow_version, bucket_start, bucket_ms) DO UPDATE SET
       n = shadow_stats.n + excluded.n, agree = shadow_stats.agree + excluded.agree,
       abs_diff_sum = shadow_stats.abs_diff_sum + excluded.abs_diff_sum,
       active_latency_sum = shadow_stats.active_latency_sum + excluded.active_latency_sum,
       shadow_latency_sum = shadow_stats.shadow_latency_sum + excluded.shadow_latency_sum,
       errors = shadow_stats.errors + excluded.errors, updated_at = excluded.updated_at`,
    [
      rows.map((s) => s.model),
      rows.map((s) => s.activeVersion),
      rows.map((s) => s.shadowVersion),
      rows.map((s) => s.bucketStart),
      rows.map((s) => s.bucketMs),
      rows.map((s) => s.n),
      rows.map((s) => s.agree),
      rows.map((s) => s.absDiffSum),
      rows.map((s) => s.activeLatencySum),
      rows.map((s) => s.shadowLatencySum),
      rows.map((s) => s.errors),
      now,
    ],
  );
}
