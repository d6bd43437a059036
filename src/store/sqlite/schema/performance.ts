import { blob, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The columns of a table of per-bucket float64 vectors keyed by (model, version, bucket, spec); a function, so
 * each table gets column builders of its own.
 */
const vectorColumns = () => ({
  model: text('model').notNull(),
  modelVersion: text('model_version').notNull(),
  bucketStart: integer('bucket_start').notNull(),
  bucketMs: integer('bucket_ms').notNull(),
  // JSON of the accumulator's shape: {"kind":"binary","threshold":0.5,"bins":100} or {"kind":"multiclass","classes":[…]}.
  spec: text('spec').notNull(),
  // Rows counted (every logged row with a score for the estimate, labelled rows for the realized counts).
  rows: integer('rows').notNull(),
  // Little-endian float64 vector, added element-wise by dw_add_f64.
  sums: blob('sums', { mode: 'buffer' }).notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Per-bucket performance accumulators of a classifier that logs probabilities (src/stats/performance.ts):
 * sums of calibrated probabilities per score cell or predicted class (count, Σp̂, Σp̂² per cell). `spec` is the
 * accumulator's shape (kind, threshold and bins, or the class names), so vectors of one key always have one
 * length and add.
 */
export const performance = sqliteTable('performance', vectorColumns(), (t) => [
  primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs, t.spec] }),
]);

/**
 * Realized counts of the labelled rows of the same buckets, in the cells of the same `spec` (src/stats/
 * realized.ts): the labels' positives and negatives per score cell, or the K-class confusion matrix and
 * per-class cell counts. Added when a label joins; a bucket's rows are recounted when a label is corrected.
 */
export const realizedPerformance = sqliteTable('realized_performance', vectorColumns(), (t) => [
  primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs, t.spec] }),
]);
