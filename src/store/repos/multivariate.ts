import type { Sql } from '../sql.js';
import type {
  BaselineCoMomentsRow,
  BucketRange,
  CoMomentsDelta,
  CoMomentsStore,
  CusumRow,
  CusumStore,
  WindowKey,
} from '../types.js';
import { addCoMoments } from '../vectors.js';
import { bucketsIn, DAY_MS } from './buckets.js';

/** Co-moment vectors are stored as the bytes of little-endian float64 arrays (blob / bytea). */
export const toF64Blob = (v: Float64Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
export const fromF64Blob = (blob: Buffer) =>
  new Float64Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));

/**
 * Per-bucket co-moment vectors and a baseline's own: the reads and plain writes, written once. The additive
 * merge of bucket vectors differs by dialect and lives in the subclasses.
 */
export abstract class CoMomentsBase implements CoMomentsStore {
  constructor(private readonly db: Sql) {}

  abstract add(deltas: readonly CoMomentsDelta[], now: number): Promise<void>;

  async window(k: WindowKey): Promise<Float64Array[]> {
    const [buckets, params] = bucketsIn(k.bucketMs, k.from, k.to);
    const rows = await this.db.rows<{ start: number; vector: Buffer }>(
      `SELECT bucket_start AS start, vector FROM comoments
       WHERE model = ? AND model_version = ? AND baseline_id = ? AND ${buckets}
       ORDER BY bucket_start, bucket_ms`,
      [k.model, k.modelVersion, k.baselineId, ...params],
    );
    // Summed per UTC day first, in bucket order, as the rollup sums a day: floating-point sums then come out
    // the same, to the last bit, whether the window's days were rolled up or not.
    const out: Float64Array[] = [];
    let day = Number.NaN;
    for (const r of rows) {
      const v = fromF64Blob(r.vector);
      const start = Number(r.start);
      const last = out[out.length - 1];
      if (last && start - (start % DAY_MS) === day && last.length === v.length && last[0] === v[0])
        out[out.length - 1] = addCoMoments(last, v);
      else {
        out.push(v);
        day = start - (start % DAY_MS);
      }
    }
    return out;
  }

  async take(r: BucketRange): Promise<CoMomentsDelta[]> {
    const rows = await this.db.rows<Omit<CoMomentsDelta, 'vector'> & { vector: Buffer }>(
      `DELETE FROM comoments
       WHERE model = ? AND model_version = ? AND bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?
       RETURNING model, model_version AS "modelVersion", baseline_id AS "baselineId", bucket_start AS "bucketStart",
         bucket_ms AS "bucketMs", vector`,
      [r.model, r.modelVersion, r.bucketMs, r.from, r.to],
    );
    return rows
      .map((row) => ({ ...row, vector: fromF64Blob(row.vector) }))
      .sort((a, b) => a.bucketStart - b.bucketStart);
  }

  async clear(model: string, baselineId: number): Promise<void> {
    await this.db.run('DELETE FROM comoments WHERE model = ? AND baseline_id = ?', [model, baselineId]);
  }

  async putBaseline(row: BaselineCoMomentsRow): Promise<void> {
    await this.db.run(
      `INSERT INTO baseline_comoments (baseline_id, standardisation, fit, calibration, chunks) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (baseline_id) DO UPDATE SET standardisation = excluded.standardisation, fit = excluded.fit,
         calibration = excluded.calibration, chunks = excluded.chunks`,
      [
        row.baselineId,
        row.standardisation,
        toF64Blob(row.fit),
        toF64Blob(row.calibration),
        row.chunks ? toF64Blob(row.chunks) : null,
      ],
    );
  }

  async baseline(baselineId: number): Promise<BaselineCoMomentsRow | undefined> {
    const r = await this.db.one<{
      standardisation: string;
      fit: Buffer;
      calibration: Buffer;
      chunks: Buffer | null;
    }>('SELECT standardisation, fit, calibration, chunks FROM baseline_comoments WHERE baseline_id = ?', [
      baselineId,
    ]);
    if (!r) return undefined;
    return {
      baselineId,
      standardisation: r.standardisation,
      fit: fromF64Blob(r.fit),
      calibration: fromF64Blob(r.calibration),
      chunks: r.chunks ? fromF64Blob(r.chunks) : null,
    };
  }
}

/** CUSUM state of sequential alerts, one row per (model, version, feature); written once for both dialects. */
export class Cusums implements CusumStore {
  constructor(private readonly db: Sql) {}

  async get(model: string, modelVersion: string, feature: string): Promise<CusumRow | undefined> {
    return this.db.one<CusumRow>(
      `SELECT model, model_version AS "modelVersion", feature, upper, last_bucket AS "lastBucket", path,
         updated_at AS "updatedAt"
       FROM cusum_state WHERE model = ? AND model_version = ? AND feature = ?`,
      [model, modelVersion, feature],
    );
  }

  /**
   * Stores the state after `row.lastBucket` only if no later or equal bucket was stored meanwhile, so two
   * evaluations of one bucket advance it once; resolves to whether it was written.
   */
  async advance(row: CusumRow): Promise<boolean> {
    const changed = await this.db.run(
      `INSERT INTO cusum_state (model, model_version, feature, upper, last_bucket, path, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, feature) DO UPDATE SET upper = excluded.upper,
         last_bucket = excluded.last_bucket, path = excluded.path, updated_at = excluded.updated_at
       WHERE cusum_state.last_bucket < excluded.last_bucket`,
      [row.model, row.modelVersion, row.feature, row.upper, row.lastBucket, row.path, row.updatedAt],
    );
    return changed > 0;
  }
}
