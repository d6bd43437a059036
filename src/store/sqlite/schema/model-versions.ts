import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One row per (model, version) seen at ingest; counters survive raw-record retention. */
export const modelVersions = sqliteTable(
  'model_versions',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    recordCount: integer('record_count').notNull(),
    firstTs: integer('first_ts').notNull(),
    lastTs: integer('last_ts').notNull(),
    firstReceivedAt: integer('first_received_at').notNull(),
    lastReceivedAt: integer('last_received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion] })],
);
