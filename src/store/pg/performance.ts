import {
  addF64,
  fromF64Blob,
  PerformanceBase,
  type PerformanceTable,
  toF64Blob,
} from '../repos/performance.js';
import type { PerformanceDelta } from '../types.js';
import { combine, createdKeys, mergeLocked } from './aggregates.js';
import type { PgConn } from './client.js';

const keyOf = (d: Pick<PerformanceDelta, 'model' | 'modelVersion' | 'bucketStart' | 'bucketMs' | 'spec'>) =>
  JSON.stringify([d.model, d.modelVersion, d.bucketStart, d.bucketMs, d.spec]);

interface StoredPerformance {
  model: string;
  model_version: string;
  bucket_start: number;
  bucket_ms: number;
  spec: string;
  rows: number;
  sums: Buffer;
}

const addDeltas = (a: PerformanceDelta, b: Pick<PerformanceDelta, 'rows' | 'sums'>): PerformanceDelta => ({
  ...a,
  rows: a.rows + b.rows,
  sums: addF64(a.sums, b.sums),
});

const keyParams = (list: readonly PerformanceDelta[]) => [
  list.map((d) => d.model),
  list.map((d) => d.modelVersion),
  list.map((d) => d.bucketStart),
  list.map((d) => d.bucketMs),
  list.map((d) => d.spec),
];
const valueParams = (list: readonly PerformanceDelta[]) => [
  list.map((d) => d.rows),
  list.map((d) => toF64Blob(d.sums)),
];

/** Merged as aggregates are: under the row lock, added in JS (see PgAggregates). */
export class PgPerformance extends PerformanceBase {
  constructor(private readonly c: PgConn) {
    super(c);
  }

  protected async merge(
    table: PerformanceTable,
    list: readonly PerformanceDelta[],
    now: number,
  ): Promise<void> {
    if (list.length === 0) return;
    await mergeLocked<PerformanceDelta, StoredPerformance>(combine(list, keyOf, addDeltas), {
      what: table,
      lock: (keys) =>
        this.c.rows<StoredPerformance>(
          `SELECT model, model_version, bucket_start, bucket_ms, spec, rows, sums FROM ${table}
           WHERE (model, model_version, bucket_start, bucket_ms, spec) IN
             (SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[]))
           ORDER BY model COLLATE "C", model_version COLLATE "C", bucket_start, bucket_ms, spec COLLATE "C"
           FOR UPDATE`,
          keyParams(keys),
        ),
      keyOfRow: (r) =>
        keyOf({
          model: r.model,
          modelVersion: r.model_version,
          bucketStart: Number(r.bucket_start),
          bucketMs: Number(r.bucket_ms),
          spec: r.spec,
        }),
      add: (d, r) => addDeltas(d, { rows: Number(r.rows), sums: fromF64Blob(r.sums) }),
      update: async (updates) => {
        await this.c.run(
          `UPDATE ${table} p SET rows = v.rows, sums = v.sums, updated_at = greatest(p.updated_at, $8)
           FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[], $6::int8[], $7::bytea[])
             AS v(model, model_version, bucket_start, bucket_ms, spec, rows, sums)
           WHERE p.model = v.model AND p.model_version = v.model_version AND p.bucket_start = v.bucket_start
             AND p.bucket_ms = v.bucket_ms AND p.spec = v.spec`,
          [...keyParams(updates), ...valueParams(updates), now],
        );
      },
      insert: async (rows) =>
        createdKeys(
          await this.c.rows<{ k: string }>(
            `INSERT INTO ${table} (model, model_version, bucket_start, bucket_ms, spec, rows, sums, updated_at)
             SELECT *, $8::int8 FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[], $6::int8[],
               $7::bytea[])
             ON CONFLICT (model, model_version, bucket_start, bucket_ms, spec) DO NOTHING
             RETURNING json_build_array(model, model_version, bucket_start, bucket_ms, spec)::text AS k`,
            [...keyParams(rows), ...valueParams(rows), now],
          ),
        ),
    });
  }
}
