import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Records that failed envelope validation, kept with the reason and the text sent so nothing vanishes silently. */
export const rejections = sqliteTable(
  'rejections',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    receivedAt: integer('received_at').notNull(),
    // The HTTP request that carried the record, to match a client's response with what was stored.
    ingestRequestId: text('ingest_request_id').notNull(),
    // Best effort: taken from the raw record when it had a usable string there.
    model: text('model'),
    requestId: text('request_id'),
    // "index" for JSON bodies (position in records[]), "line" for NDJSON (1-based line number).
    positionKind: text('position_kind', { enum: ['index', 'line'] }).notNull(),
    position: integer('position').notNull(),
    errors: text('errors').notNull(),
    raw: text('raw').notNull(),
  },
  (t) => [index('rejections_received_at').on(t.receivedAt), index('rejections_model').on(t.model)],
);
