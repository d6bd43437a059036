import { CoMomentsBase, toF64Blob } from '../repos/multivariate.js';
import type { CoMomentsDelta } from '../types.js';
import type { Connection } from './client.js';

export class SqliteCoMoments extends CoMomentsBase {
  constructor(private readonly c: Connection) {
    super(c);
  }

  async add(deltas: readonly CoMomentsDelta[], now: number): Promise<void> {
    // The database adds the vectors (dw_add_comoments), so nothing is read back.
    const stmt = this.c.prepared(
      `INSERT INTO comoments (model, model_version, baseline_id, bucket_start, bucket_ms, vector, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, baseline_id, bucket_start, bucket_ms) DO UPDATE SET
         vector = dw_add_comoments(comoments.vector, excluded.vector),
         updated_at = max(comoments.updated_at, excluded.updated_at)`,
    );
    for (const d of deltas)
      stmt.run(d.model, d.modelVersion, d.baselineId, d.bucketStart, d.bucketMs, toF64Blob(d.vector), now);
  }
}
