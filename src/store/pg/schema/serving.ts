import { sql } from 'drizzle-orm';
import {
  bigserial,
  doublePrecision,
  index,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { bytea, ms } from './columns.js';

// Mirrors src/store/sqlite/schema/serving.ts (comments there).

export const servedVersions = pgTable(
  'served_versions',
  {
    model: text('model').notNull(),
    version: text('version').notNull(),
    state: text('state', { enum: ['registered', 'active', 'shadow', 'retired'] }).notNull(),
    manifest: text('manifest').notNull(),
    onnx: bytea('onnx').notNull(),
    sha256: text('sha256').notNull(),
    sizeBytes: ms('size_bytes').notNull(),
    registeredAt: ms('registered_at').notNull(),
    registeredBy: text('registered_by'),
    activatedAt: ms('activated_at'),
    baselineId: ms('baseline_id'),
  },
  (t) => [
    primaryKey({ columns: [t.model, t.version] }),
    uniqueIndex('served_versions_active').on(t.model).where(sql`state = 'active'`),
  ],
);

export const modelEvents = pgTable(
  'model_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    model: text('model').notNull(),
    at: ms('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    fromVersion: text('from_version'),
    toVersion: text('to_version'),
    note: text('note'),
  },
  (t) => [index('model_events_model').on(t.model, t.id)],
);

export const shadowStats = pgTable(
  'shadow_stats',
  {
    model: text('model').notNull(),
    activeVersion: text('active_version').notNull(),
    shadowVersion: text('shadow_version').notNull(),
    bucketStart: ms('bucket_start').notNull(),
    bucketMs: ms('bucket_ms').notNull(),
    n: ms('n').notNull(),
    agree: ms('agree').notNull(),
    absDiffSum: doublePrecision('abs_diff_sum').notNull(),
    activeLatencySum: doublePrecision('active_latency_sum').notNull(),
    shadowLatencySum: doublePrecision('shadow_latency_sum').notNull(),
    errors: ms('errors').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.activeVersion, t.shadowVersion, t.bucketStart, t.bucketMs] })],
);
