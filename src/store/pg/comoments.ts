import { CoMomentsBase, fromF64Blob, toF64Blob } from '../repos/multivariate.js';
import type { CoMomentsDelta } from '../types.js';
import { addCoMoments } from '../vectors.js';
import type { PgConn } from './client.js';

const keyOf = (d: Omit<CoMomentsDelta, 'vector'>) =>
  JSON.stringify([d.model, d.modelVersion, d.baselineId, d.bucketStart, d.bucketMs]);

/**
 * Co-moment vectors on PostgreSQL, merged as aggregates are (pg/aggregates.ts): rows locked in key order
 * (FOR UPDATE), added in JS, written back; a missing row is inserted, and one another writer inserted in
 * between is locked and merged on the next pass.
 */
export class PgCoMoments extends CoMomentsBase {
  constructor(private readonly c: PgConn) {
    super(c);
  }

  async add(deltas: readonly CoMomentsDelta[], now: number): Promise<void> {
    const merged = new Map<string, CoMomentsDelta>();
    for (const d of deltas) {
      const k = keyOf(d);
      const seen = merged.get(k);
      merged.set(k, seen ? { ...seen, vector: addCoMoments(seen.vector, d.vector) } : d);
    }
    // Code-unit order of the JSON key: the same lock order in every writer, so writers do not deadlock.
    let pending = [...merged.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (let pass = 0; pending.length > 0; pass++) {
      if (pass > 3) throw new Error('comoments upsert did not converge');
      const inserts: [string, CoMomentsDelta][] = [];
      for (const [k, d] of pending) {
        const row = await this.c.one<{ vector: Buffer }>(
          `SELECT vector FROM comoments WHERE model = $1 AND model_version = $2 AND baseline_id = $3
             AND bucket_start = $4 AND bucket_ms = $5 FOR UPDATE`,
          [d.model, d.modelVersion, d.baselineId, d.bucketStart, d.bucketMs],
        );
        if (!row) {
          inserts.push([k, d]);
          continue;
        }
        await this.c.run(
          `UPDATE comoments SET vector = $6, updated_at = greatest(updated_at, $7)
           WHERE model = $1 AND model_version = $2 AND baseline_id = $3 AND bucket_start = $4 AND bucket_ms = $5`,
          [
            d.model,
            d.modelVersion,
            d.baselineId,
            d.bucketStart,
            d.bucketMs,
            toF64Blob(addCoMoments(fromF64Blob(row.vector), d.vector)),
            now,
          ],
        );
      }
      const lost: [string, CoMomentsDelta][] = [];
      for (const [k, d] of inserts) {
        const created = await this.c.run(
          `INSERT INTO comoments (model, model_version, baseline_id, bucket_start, bucket_ms, vector, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (model, model_version, baseline_id, bucket_start, bucket_ms) DO NOTHING`,
          [d.model, d.modelVersion, d.baselineId, d.bucketStart, d.bucketMs, toF64Blob(d.vector), now],
        );
        if (created === 0) lost.push([k, d]);
      }
      pending = lost;
    }
  }
}
