import type { Database } from '../db/client.js';
import { prepared } from '../db/statements.js';

/** What an aggregate counts for one column; a bucket's row and a summed window share it. */
export interface ColumnTallies {
  /** Values placed in a slot (counted in `counts`). */
  n: number;
  missing: number;
  typeMismatch: number;
  outOfRange: number;
  unseen: number;
  offEdge: number;
  vmin: number | null;
  vmax: number | null;
}

export interface AggregateDelta extends ColumnTallies {
  model: string;
  modelVersion: string;
  baselineId: number;
  bucketStart: number;
  bucketMs: number;
  role: 'feature' | 'prediction';
  name: string;
  counts: Uint32Array;
}

/** Record and label-outcome counts of a bucket (or, summed, of a window). */
export interface Outcomes {
  records: number;
  labeled: number;
  classified: number;
  correct: number;
  regressed: number;
  absErrSum: number;
  sqErrSum: number;
}

export interface BucketStatsDelta extends Outcomes {
  model: string;
  modelVersion: string;
  bucketStart: number;
  bucketMs: number;
}

const toBlob = (counts: Uint32Array) => Buffer.from(counts.buffer, counts.byteOffset, counts.byteLength);
export const fromBlob = (blob: Buffer) =>
  new Uint32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));

/** Adds a delta to its aggregate row (read, add, write: counts are plain sums). Call inside a transaction. */
export function addAggregate(db: Database, d: AggregateDelta, now: number): void {
  const existing = prepared(
      db,
      `SELECT counts FROM aggregates WHERE model = ? AND model_version = ? AND baseline_id = ? AND bucket_start = ?
       AND role = ? AND name = ?`,
    )
    .get(d.model, d.modelVersion, d.baselineId, d.bucketStart, d.role, d.name) as { counts: Buffer } | undefined;
  const counts = d.counts;
  if (existing) {
    const old = fromBlob(existing.counts);
    for (let i = 0; i < counts.length && i < old.length; i++) counts[i] = (counts[i] as number) + (old[i] as number);
  }
  prepared(
      db,
      `INSERT INTO aggregates (model, model_version, baseline_id, bucket_start, bucket_ms, role, name, n, missing,
         type_mismatch, out_of_range, unseen, off_edge, vmin, vmax, counts, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, baseline_id, bucket_start, role, name) DO UPDATE SET
         n = n + excluded.n, missing = missing + excluded.missing, type_mismatch = type_mismatch + excluded.type_mismatch,
         out_of_range = out_of_range + excluded.out_of_range, unseen = unseen + excluded.unseen,
         off_edge = off_edge + excluded.off_edge, vmin = min(coalesce(vmin, excluded.vmin), coalesce(excluded.vmin, vmin)),
         vmax = max(coalesce(vmax, excluded.vmax), coalesce(excluded.vmax, vmax)),
         counts = excluded.counts, updated_at = max(updated_at, excluded.updated_at)`,
    )
    .run(d.model, d.modelVersion, d.baselineId, d.bucketStart, d.bucketMs, d.role, d.name, d.n, d.missing, d.typeMismatch, d.outOfRange, d.unseen, d.offEdge, d.vmin, d.vmax, toBlob(counts), now);
}

export function addBucketStats(db: Database, s: BucketStatsDelta, now: number): void {
  prepared(
      db,
      `INSERT INTO bucket_stats (model, model_version, bucket_start, bucket_ms, records, labeled, classified, correct,
         regressed, abs_err_sum, sq_err_sum, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, bucket_start) DO UPDATE SET
         records = records + excluded.records, labeled = labeled + excluded.labeled,
         classified = classified + excluded.classified, correct = correct + excluded.correct,
         regressed = regressed + excluded.regressed, abs_err_sum = abs_err_sum + excluded.abs_err_sum,
         sq_err_sum = sq_err_sum + excluded.sq_err_sum, updated_at = excluded.updated_at`,
    )
    .run(s.model, s.modelVersion, s.bucketStart, s.bucketMs, s.records, s.labeled, s.classified, s.correct, s.regressed, s.absErrSum, s.sqErrSum, now);
}

/** Drops a baseline's aggregates for some model versions before they are rebuilt from raw records. */
export function clearAggregates(db: Database, model: string, baselineId: number): void {
  db.sqlite.prepare('DELETE FROM aggregates WHERE model = ? AND baseline_id = ?').run(model, baselineId);
}

/** Changes whenever a baseline of the model is activated or deactivated, by any process. */
export function activeBaselineStamp(db: Database, model: string): string {
  const row = prepared(
    db,
    'SELECT count(*) AS n, coalesce(max(activated_at), 0) AS at, coalesce(max(id), 0) AS id FROM baselines WHERE model = ? AND active = 1',
  ).get(model) as { n: number; at: number; id: number };
  return `${row.n}:${row.at}:${row.id}`;
}

/** Every column of the model's active baselines, the most recently activated baseline first. */
export function activeBaselineColumns(db: Database, model: string) {
  return prepared(
    db,
    `SELECT b.id, b.model_version, c.role, c.name, c.profile FROM baselines b
     JOIN baseline_columns c ON c.baseline_id = b.id
     WHERE b.model = ? AND b.active = 1 ORDER BY b.activated_at DESC, b.id DESC`,
  ).all(model) as { id: number; model_version: string; role: string; name: string; profile: string }[];
}
