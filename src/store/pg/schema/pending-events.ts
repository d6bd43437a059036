import { index, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/** KServe halves waiting for their other half; mirrors the SQLite table (see its comment). */
export const pendingEvents = pgTable(
  'pending_events',
  {
    model: text('model').notNull(),
    eventId: text('event_id').notNull(),
    kind: text('kind', { enum: ['request', 'response'] }).notNull(),
    receivedAt: ms('received_at').notNull(),
    eventTime: ms('event_time'),
    data: text('data').notNull(),
    attrs: text('attrs').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.model, t.eventId] }),
    index('pending_events_received_at').on(t.receivedAt),
  ],
);
