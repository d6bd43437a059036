import { doublePrecision, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { bytea, ms } from './columns.js';

// Mirrors src/store/sqlite/schema/multivariate.ts (comments there).

export const comoments = pgTable(
  'comoments',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    baselineId: ms('baseline_id').notNull(),
    bucketStart: ms('bucket_start').notNull(),
    bucketMs: ms('bucket_ms').notNull(),
    vector: bytea('vector').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.baselineId, t.bucketStart, t.bucketMs] })],
);

export const baselineComoments = pgTable('baseline_comoments', {
  baselineId: ms('baseline_id').primaryKey(),
  standardisation: text('standardisation').notNull(),
  fit: bytea('fit').notNull(),
  calibration: bytea('calibration').notNull(),
  chunks: bytea('chunks'),
});

export const cusumState = pgTable(
  'cusum_state',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    feature: text('feature').notNull(),
    upper: doublePrecision('upper').notNull(),
    lastBucket: ms('last_bucket').notNull(),
    path: text('path').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.feature] })],
);
