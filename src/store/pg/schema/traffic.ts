import { doublePrecision, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { bytea, ms } from './columns.js';

// Mirrors src/store/sqlite/schema/traffic.ts (comments there).

export const traffic = pgTable(
  'traffic',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    bucketStart: ms('bucket_start').notNull(),
    bucketMs: ms('bucket_ms').notNull(),
    requests: ms('requests').notNull(),
    errors: ms('errors').notNull(),
    latencyCount: ms('latency_count').notNull(),
    latencySum: doublePrecision('latency_sum').notNull(),
    latencyCounts: bytea('latency_counts').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs] })],
);
