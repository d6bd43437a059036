import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * KServe payload logger: the first half (request or response CloudEvent) of an inference waiting for the
 * other half, which may arrive later and at another process of a fleet. One row per (model, event id):
 * the half that comes second finds it, and the joined record is ingested; the kserve-join job ingests a
 * half left alone past `ingest.cloudEventsJoinTimeout`.
 */
export const pendingEvents = sqliteTable(
  'pending_events',
  {
    model: text('model').notNull(),
    // The CloudEvent id, shared by the request and the response of one inference.
    eventId: text('event_id').notNull(),
    kind: text('kind', { enum: ['request', 'response'] }).notNull(),
    receivedAt: integer('received_at').notNull(),
    // The event's `time` attribute in ms, when it had one.
    eventTime: integer('event_time'),
    // The event's `data` as JSON text (the V1 or Open Inference Protocol body).
    data: text('data').notNull(),
    // JSON object of the other attributes kept as tags (source, namespace, component, endpoint).
    attrs: text('attrs').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.model, t.eventId] }),
    index('pending_events_received_at').on(t.receivedAt),
  ],
);
