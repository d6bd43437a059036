import { PerformanceBase, type PerformanceTable, toF64Blob } from '../repos/performance.js';
import type { PerformanceDelta } from '../types.js';
import type { Connection } from './client.js';

export class SqlitePerformance extends PerformanceBase {
  constructor(private readonly c: Connection) {
    super(c);
  }

  protected async merge(
    table: PerformanceTable,
    list: readonly PerformanceDelta[],
    now: number,
  ): Promise<void> {
    // Additive upsert: the database adds the sums (dw_add_f64), so nothing is read back.
    const stmt = this.c.prepared(
      `INSERT INTO ${table} (model, model_version, bucket_start, bucket_ms, spec, rows, sums, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, bucket_start, bucket_ms, spec) DO UPDATE SET
         rows = ${table}.rows + excluded.rows, sums = dw_add_f64(${table}.sums, excluded.sums),
         updated_at = max(${table}.updated_at, excluded.updated_at)`,
    );
    for (const d of list)
      stmt.run(d.model, d.modelVersion, d.bucketStart, d.bucketMs, d.spec, d.rows, toF64Blob(d.sums), now);
  }
}
