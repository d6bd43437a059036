import { blob, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Per-bucket co-moments of a model version's numeric features, standardised with the baseline's mean and sd
 * (src/stats/comoments.ts): one little-endian float64 vector [d, n, missing…, Σz…, Σzzᵀ upper triangle]
 * whose features are the baseline's `baseline_comoments.features`. Vectors only add, so rows written by
 * several processes, and the rows of a window, merge exactly.
 */
export const comoments = sqliteTable(
  'comoments',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    baselineId: integer('baseline_id').notNull(),
    bucketStart: integer('bucket_start').notNull(),
    bucketMs: integer('bucket_ms').notNull(),
    vector: blob('vector', { mode: 'buffer' }).notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.baselineId, t.bucketStart, t.bucketMs] })],
);

/**
 * A baseline's own co-moments, computed when it is profiled: the features watched jointly, their mean and
 * sd (the standardisation production rows get), and the accumulators of its even rows (PCA fit), odd rows
 * (the null's calibration) and all rows (the correlations windows are compared with), as float64 vectors.
 */
export const baselineComoments = sqliteTable('baseline_comoments', {
  baselineId: integer('baseline_id').primaryKey(),
  // JSON: { features: string[], mean: number[], sd: number[] }.
  standardisation: text('standardisation').notNull(),
  fit: blob('fit', { mode: 'buffer' }).notNull(),
  calibration: blob('calibration', { mode: 'buffer' }).notNull(),
  // The BASELINE_CHUNKS round-robin chunks' vectors one after another (the nulls' measured spread); null for
  // a baseline stored before they were kept.
  chunks: blob('chunks', { mode: 'buffer' }),
});

/**
 * CUSUM state of a feature's sequential drift alert per model version: the sums after the last closed
 * bucket it was advanced by (`last_bucket`, so a bucket evaluated again does not advance it twice) and the
 * recent path (JSON) the alert's evidence shows.
 */
export const cusumState = sqliteTable(
  'cusum_state',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    feature: text('feature').notNull(),
    upper: real('upper').notNull(),
    lastBucket: integer('last_bucket').notNull(),
    path: text('path').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.feature] })],
);
