import { bytewise, type Sql } from '../sql.js';
import type { BucketRange, PerformanceDelta, PerformanceRow, PerformanceStore } from '../types.js';
import { bucketsIn } from './buckets.js';

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

  abstract add(list: readonly PerformanceDelta[], now: number): Promise<void>;

  async window(q: {
    model: string;
    modelVersion?: string | undefined;
    bucketMs: number;
    from: number;
    to: number;
  }): Promise<PerformanceRow[]> {
    const version = q.modelVersion != null;
    const [buckets, params] = bucketsIn(q.bucketMs, q.from, q.to);
    const rows = await this.db.rows<Omit<PerformanceRow, 'sums'> & { sums: Buffer }>(
      `SELECT model_version AS "modelVersion", bucket_start AS "bucketStart", spec, rows, sums FROM performance
       WHERE model = ?${version ? ' AND model_version = ?' : ''} AND ${buckets}
       ORDER BY bucket_start, model_version${bytewise(this.db)}, spec${bytewise(this.db)}`,
      [q.model, ...(version ? [q.modelVersion] : []), ...params],
    );
    return rows.map((r) => ({ ...r, rows: Number(r.rows), sums: fromF64Blob(r.sums) }));
  }

  async take(r: BucketRange): Promise<PerformanceDelta[]> {
    const rows = await this.db.rows<Omit<PerformanceDelta, 'sums'> & { sums: Buffer }>(
      `DELETE FROM performance
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
