import { pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { bytea, ms } from './columns.js';

// Mirrors src/store/sqlite/schema/performance.ts (comments there).

const vectorColumns = () => ({
  model: text('model').notNull(),
  modelVersion: text('model_version').notNull(),
  bucketStart: ms('bucket_start').notNull(),
  bucketMs: ms('bucket_ms').notNull(),
  spec: text('spec').notNull(),
  rows: ms('rows').notNull(),
  sums: bytea('sums').notNull(),
  updatedAt: ms('updated_at').notNull(),
});

export const performance = pgTable('performance', vectorColumns(), (t) => [
  primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs, t.spec] }),
]);

export const realizedPerformance = pgTable('realized_performance', vectorColumns(), (t) => [
  primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs, t.spec] }),
]);
