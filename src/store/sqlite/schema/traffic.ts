import { blob, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Per-bucket traffic of a model version, independent of any baseline: requests, errors and a latency
 * histogram on fixed log-spaced slots (src/traffic/histogram.ts). Everything only adds, so rows written by
 * several processes, and the rows of a window, merge exactly.
 */
export const traffic = sqliteTable(
  'traffic',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    bucketStart: integer('bucket_start').notNull(),
    bucketMs: integer('bucket_ms').notNull(),
    requests: integer('requests').notNull(),
    // Records with status "error" (or, without a status, with an error message).
    errors: integer('errors').notNull(),
    // Records that carried latency_ms, and the sum of their latencies (for the mean).
    latencyCount: integer('latency_count').notNull(),
    latencySum: real('latency_sum').notNull(),
    // Little-endian uint32 counts per log-spaced latency slot, trailing zeros trimmed.
    latencyCounts: blob('latency_counts', { mode: 'buffer' }).notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs] })],
);
