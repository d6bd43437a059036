import { index, integer, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Raw inference records as shipped by clients, kept for the retention period for audit and re-aggregation. */
export const records = sqliteTable(
  'records',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    model: text('model').notNull(),
    // Empty string when the client sent no version, so the column stays NOT NULL and indexable.
    modelVersion: text('model_version').notNull().default(''),
    requestId: text('request_id').notNull(),
    // Event time (the record's own timestamp), ms since epoch.
    ts: integer('ts').notNull(),
    receivedAt: integer('received_at').notNull(),
    features: text('features').notNull(),
    prediction: text('prediction'),
    label: text('label'),
    latencyMs: real('latency_ms'),
    status: text('status', { enum: ['ok', 'error'] }),
    error: text('error'),
    tags: text('tags'),
  },
  (t) => [
    uniqueIndex('records_model_request_id').on(t.model, t.requestId),
    index('records_model_ts').on(t.model, t.ts),
    index('records_received_at').on(t.receivedAt),
  ],
);
