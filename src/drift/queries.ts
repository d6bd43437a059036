import type { Database } from '../db/client.js';
import { eq } from 'drizzle-orm';
import { thresholdOverrides } from '../db/schema/index.js';
import { prepared } from '../db/statements.js';
import { fromBlob, type Outcomes } from '../aggregates/queries.js';
import type { WindowColumn } from './evaluate.js';

export interface WindowKey {
  model: string;
  modelVersion: string;
  baselineId: number;
  bucketMs: number;
  from: number;
  to: number;
}

/** Sums a version's aggregates over the buckets starting in [from, to), keyed "role:name". */
export function windowColumns(db: Database, k: WindowKey): Map<string, WindowColumn> {
  const rows = prepared(
    db,
    `SELECT role, name, n, missing, type_mismatch, out_of_range, unseen, off_edge, vmin, vmax, counts FROM aggregates
     WHERE model = ? AND model_version = ? AND baseline_id = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?`,
  ).all(k.model, k.modelVersion, k.baselineId, k.bucketMs, k.from, k.to) as {
    role: string;
    name: string;
    n: number;
    missing: number;
    type_mismatch: number;
    out_of_range: number;
    unseen: number;
    off_edge: number;
    vmin: number | null;
    vmax: number | null;
    counts: Buffer;
  }[];
  const out = new Map<string, WindowColumn>();
  for (const r of rows) {
    const key = `${r.role}:${r.name}`;
    const counts = fromBlob(r.counts);
    let w = out.get(key);
    if (!w) {
      w = { n: 0, missing: 0, typeMismatch: 0, outOfRange: 0, unseen: 0, offEdge: 0, vmin: null, vmax: null, counts: new Float64Array(counts.length) };
      out.set(key, w);
    }
    w.n += r.n;
    w.missing += r.missing;
    w.typeMismatch += r.type_mismatch;
    w.outOfRange += r.out_of_range;
    w.unseen += r.unseen;
    w.offEdge += r.off_edge;
    if (r.vmin !== null && (w.vmin === null || r.vmin < w.vmin)) w.vmin = r.vmin;
    if (r.vmax !== null && (w.vmax === null || r.vmax > w.vmax)) w.vmax = r.vmax;
    for (let i = 0; i < counts.length && i < w.counts.length; i++) w.counts[i] = (w.counts[i] as number) + (counts[i] as number);
  }
  return out;
}

export type WindowPerformance = Outcomes;

export function windowPerformance(db: Database, k: Omit<WindowKey, 'baselineId'>): WindowPerformance {
  return prepared(
    db,
    `SELECT coalesce(sum(records), 0) AS records, coalesce(sum(labeled), 0) AS labeled,
       coalesce(sum(classified), 0) AS classified, coalesce(sum(correct), 0) AS correct,
       coalesce(sum(regressed), 0) AS regressed, coalesce(sum(abs_err_sum), 0) AS absErrSum,
       coalesce(sum(sq_err_sum), 0) AS sqErrSum
     FROM bucket_stats WHERE model = ? AND model_version = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?`,
  ).get(k.model, k.modelVersion, k.bucketMs, k.from, k.to) as WindowPerformance;
}

/** (model, version, bucket) combinations whose aggregates or label stats changed after `since`. */
export function changedBuckets(db: Database, since: number) {
  return prepared(
    db,
    `SELECT DISTINCT model, model_version AS modelVersion, bucket_start AS bucketStart, bucket_ms AS bucketMs, updated_at AS updatedAt
     FROM aggregates WHERE updated_at > ?
     UNION SELECT DISTINCT model, model_version, bucket_start, bucket_ms, updated_at FROM bucket_stats WHERE updated_at > ?`,
  ).all(since, since) as { model: string; modelVersion: string; bucketStart: number; bucketMs: number; updatedAt: number }[];
}

export function versionsWithData(db: Database, model: string, bucketMs: number, from: number, to: number): string[] {
  return (
    prepared(
      db,
      `SELECT DISTINCT model_version AS v FROM bucket_stats WHERE model = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?`,
    ).all(model, bucketMs, from, to) as { v: string }[]
  ).map((r) => r.v);
}

export interface StoredResult {
  model: string;
  modelVersion: string;
  baselineId: number;
  windowKind: 'bucket' | 'rolling' | 'range';
  windowFrom: number;
  windowTo: number;
  n: number;
  drifted: boolean | null;
  driftedShare: number | null;
  result: string;
  evaluatedAt: number;
}

export function upsertResult(db: Database, r: StoredResult): number {
  const row = prepared(
    db,
    `INSERT INTO drift_results (model, model_version, baseline_id, window_kind, window_from, window_to, n, drifted,
       drifted_share, result, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (model, model_version, baseline_id, window_kind, window_from, window_to) DO UPDATE SET
       n = excluded.n, drifted = excluded.drifted, drifted_share = excluded.drifted_share, result = excluded.result,
       evaluated_at = excluded.evaluated_at
     RETURNING id`,
  ).get(
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

export function listResults(
  db: Database,
  q: { model: string; from?: number | undefined; to?: number | undefined; kind?: string | undefined; modelVersion?: string | undefined; limit: number },
): { id: number; result: string }[] {
  return prepared(
    db,
    `SELECT id, result FROM drift_results WHERE model = @model
       AND (@from IS NULL OR window_to > @from) AND (@to IS NULL OR window_from < @to)
       AND (@kind IS NULL OR window_kind = @kind) AND (@version IS NULL OR model_version = @version)
     ORDER BY window_to DESC, id DESC LIMIT @limit`,
  ).all({
    model: q.model,
    from: q.from ?? null,
    to: q.to ?? null,
    kind: q.kind ?? null,
    version: q.modelVersion ?? null,
    limit: q.limit,
  }) as { id: number; result: string }[];
}

/** The most recently evaluated result of each model version. */
export function latestResults(db: Database, model: string): { id: number; result: string }[] {
  return prepared(
    db,
    // SQLite takes the bare columns of a max() aggregate from the row holding the maximum: one pass.
    `SELECT id, result, max(evaluated_at) FROM drift_results WHERE model = @model
     GROUP BY model_version ORDER BY model_version`,
  ).all({ model }) as { id: number; result: string }[];
}

export function getJobState(db: Database, key: string): string | null {
  const row = prepared(db, 'SELECT value FROM job_state WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value ?? null;
}

export function setJobState(db: Database, key: string, value: string, now: number): void {
  prepared(
    db,
    'INSERT INTO job_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  ).run(key, value, now);
}

export type OverrideRow = typeof thresholdOverrides.$inferSelect;

export function overridesOf(db: Database, model: string): OverrideRow[] {
  return db.orm.select().from(thresholdOverrides).where(eq(thresholdOverrides.model, model)).all();
}

export function upsertOverride(db: Database, row: OverrideRow): void {
  db.orm
    .insert(thresholdOverrides)
    .values(row)
    .onConflictDoUpdate({
      target: [thresholdOverrides.model, thresholdOverrides.feature],
      set: { psiWarning: row.psiWarning, psiCritical: row.psiCritical, alpha: row.alpha, setBy: row.setBy, reason: row.reason, updatedAt: row.updatedAt },
    })
    .run();
}
