import { bytewise, type Sql } from '../sql.js';
import type {
  BucketKey,
  BucketRange,
  LabelledBucket,
  PerformanceDelta,
  PerformanceRow,
  PerformanceStore,
  PerformanceWindowQuery,
} from '../types.js';
import { bucketsIn, DAY_MS } from './buckets.js';

/** The two tables of per-bucket float64 vectors: the estimate's sums and the labels' realized counts. */
export type PerformanceTable = 'performance' | 'realized_performance';

/** Performance sums are stored as the bytes of little-endian float64 arrays (blob / bytea). */
export const toF64Blob = (sums: Float64Array) => Buffer.from(sums.buffer, sums.byteOffset, sums.byteLength);
export const fromF64Blob = (blob: Buffer) =>
  new Float64Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));

/** Element-wise sum of two float64 vectors (the longer one's tail kept). */
export function addF64(a: Float64Array, b: Float64Array): Float64Array {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  const out = Float64Array.from(long);
  for (let i = 0; i < short.length; i++) out[i] = (out[i] as number) + (short[i] as number);
  return out;
}

/** The window read, written once; the additive merge differs by dialect and lives in the subclasses. */
export abstract class PerformanceBase implements PerformanceStore {
  constructor(private readonly db: Sql) {}

  /** Adds the deltas' rows and sums into `table`, creating missing rows. */
  protected abstract merge(
    table: PerformanceTable,
    list: readonly PerformanceDelta[],
    now: number,
  ): Promise<void>;

  add(list: readonly PerformanceDelta[], now: number): Promise<void> {
    return this.merge('performance', list, now);
  }

  addRealized(list: readonly PerformanceDelta[], now: number): Promise<void> {
    return this.merge('realized_performance', list, now);
  }

  async setRealized(key: BucketKey, list: readonly PerformanceDelta[], now: number): Promise<void> {
    // The caller holds the bucket's stats row lock (lockBucketStats), which every label writer takes first.
    await this.db.run(
      `DELETE FROM realized_performance WHERE model = ? AND model_version = ? AND bucket_start = ?
         AND bucket_ms = ?`,
      [key.model, key.modelVersion, key.bucketStart, key.bucketMs],
    );
    await this.merge('realized_performance', list, now);
  }

  window(q: PerformanceWindowQuery): Promise<PerformanceRow[]> {
    return this.read('performance', q);
  }

  realizedWindow(q: PerformanceWindowQuery): Promise<PerformanceRow[]> {
    return this.read('realized_performance', q);
  }

  async labelledBuckets(after: BucketKey | null, limit: number): Promise<LabelledBucket[]> {
    const c = bytewise(this.db);
    // Key order of the primary key (text bytewise on both dialects), so each page resumes where the last
    // ended; primary-key lookups only, however many records the buckets hold.
    const rows = await this.db.rows<Record<keyof LabelledBucket, string | number>>(
      `SELECT p.model, p.model_version AS "modelVersion", p.bucket_start AS "bucketStart",
         p.bucket_ms AS "bucketMs",
         (SELECT COALESCE(SUM(r.rows), 0) FROM realized_performance r WHERE r.model = p.model
            AND r.model_version = p.model_version AND r.bucket_start = p.bucket_start
            AND r.bucket_ms = p.bucket_ms) AS realized,
         COALESCE((SELECT s.labeled FROM bucket_stats s WHERE s.model = p.model
            AND s.model_version = p.model_version AND s.bucket_start = p.bucket_start
            AND s.bucket_ms = p.bucket_ms), 0) AS labelled
       FROM (SELECT model, model_version, bucket_start, bucket_ms FROM performance
             WHERE bucket_ms < ${DAY_MS}
             ${after ? `AND (model${c}, model_version${c}, bucket_start, bucket_ms) > (?, ?, ?, ?)` : ''}
             GROUP BY model, model_version, bucket_start, bucket_ms
             ORDER BY model${c}, model_version${c}, bucket_start, bucket_ms LIMIT ?) p
       ORDER BY p.model${c}, p.model_version${c}, p.bucket_start, p.bucket_ms`,
      [...(after ? [after.model, after.modelVersion, after.bucketStart, after.bucketMs] : []), limit],
    );
    return rows.map((r) => ({
      model: String(r.model),
      modelVersion: String(r.modelVersion),
      bucketStart: Number(r.bucketStart),
      bucketMs: Number(r.bucketMs),
      realized: Number(r.realized),
      labelled: Number(r.labelled),
    }));
  }

  private async read(table: PerformanceTable, q: PerformanceWindowQuery): Promise<PerformanceRow[]> {
    const version = q.modelVersion != null;
    const [buckets, params] = bucketsIn(q.bucketMs, q.from, q.to);
    const rows = await this.db.rows<Omit<PerformanceRow, 'sums'> & { sums: Buffer }>(
      `SELECT model_version AS "modelVersion", bucket_start AS "bucketStart", bucket_ms AS "bucketMs", spec, rows,
         sums FROM ${table}
       WHERE model = ?${version ? ' AND model_version = ?' : ''} AND ${buckets}
       ORDER BY bucket_start, model_version${bytewise(this.db)}, spec${bytewise(this.db)}`,
      [q.model, ...(version ? [q.modelVersion] : []), ...params],
    );
    return rows.map((r) => ({
      ...r,
      bucketMs: Number(r.bucketMs),
      rows: Number(r.rows),
      sums: fromF64Blob(r.sums),
    }));
  }

  take(r: BucketRange): Promise<PerformanceDelta[]> {
    return this.takeFrom('performance', r);
  }

  takeRealized(r: BucketRange): Promise<PerformanceDelta[]> {
    return this.takeFrom('realized_performance', r);
  }

  private async takeFrom(table: PerformanceTable, r: BucketRange): Promise<PerformanceDelta[]> {
    const rows = await this.db.rows<Omit<PerformanceDelta, 'sums'> & { sums: Buffer }>(
      `DELETE FROM ${table}
       WHERE model = ? AND model_version = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?
       RETURNING model, model_version AS "modelVersion", bucket_start AS "bucketStart", bucket_ms AS "bucketMs", spec,
         rows, sums`,
      [r.model, r.modelVersion, r.bucketMs, r.from, r.to],
    );
    return rows
      .map((row) => ({ ...row, rows: Number(row.rows), sums: fromF64Blob(row.sums) }))
      .sort((a, b) => a.bucketStart - b.bucketStart);
  }
}
