import {
  bigserial,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/**
 * Raw inference records. In PostgreSQL the table is partitioned by receipt day (`received_day`, days since
 * the epoch, UTC): retention drops whole days instead of deleting rows one by one. The migration turns the
 * table drizzle generates into a partitioned one; partitions are created ahead by the store. A unique index
 * on a partitioned table must contain the partition key, so (model, request_id) is unique per receipt day
 * and ingest checks the older days itself (see PgRecords.insert).
 */
export const records = pgTable(
  'records',
  {
    id: bigserial('id', { mode: 'number' }).notNull(),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull().default(''),
    requestId: text('request_id').notNull(),
    ts: ms('ts').notNull(),
    receivedAt: ms('received_at').notNull(),
    receivedDay: integer('received_day').notNull(),
    features: text('features').notNull(),
    prediction: text('prediction'),
    label: text('label'),
    latencyMs: doublePrecision('latency_ms'),
    status: text('status', { enum: ['ok', 'error'] }),
    error: text('error'),
    tags: text('tags'),
  },
  (t) => [
    primaryKey({ columns: [t.id, t.receivedDay] }),
    uniqueIndex('records_model_request_day').on(t.model, t.requestId, t.receivedDay),
    index('records_model_ts').on(t.model, t.ts),
  ],
);

export const rejections = pgTable(
  'rejections',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    receivedAt: ms('received_at').notNull(),
    ingestRequestId: text('ingest_request_id').notNull(),
    model: text('model'),
    requestId: text('request_id'),
    positionKind: text('position_kind', { enum: ['index', 'line'] }).notNull(),
    position: integer('position').notNull(),
    errors: text('errors').notNull(),
    raw: text('raw').notNull(),
  },
  (t) => [index('rejections_received_at').on(t.receivedAt), index('rejections_model').on(t.model)],
);

export const modelVersions = pgTable(
  'model_versions',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    recordCount: ms('record_count').notNull(),
    firstTs: ms('first_ts').notNull(),
    lastTs: ms('last_ts').notNull(),
    firstReceivedAt: ms('first_received_at').notNull(),
    lastReceivedAt: ms('last_received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion] })],
);
