import { sql } from 'drizzle-orm';
import {
  blob,
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';

/**
 * Model versions driftwatch serves itself: the frozen artifact (ONNX bytes and manifest) lives in the store
 * so every process of a fleet can load any version, and `state` says which one answers predictions.
 */
export const servedVersions = sqliteTable(
  'served_versions',
  {
    model: text('model').notNull(),
    version: text('version').notNull(),
    // registered: known, not serving; active: answers predict (one per model); shadow: scored off the
    // response path next to the active one; retired: kept for the record, not loadable by activation.
    state: text('state', { enum: ['registered', 'active', 'shadow', 'retired'] }).notNull(),
    // JSON manifest as validated at registration.
    manifest: text('manifest').notNull(),
    onnx: blob('onnx', { mode: 'buffer' }).notNull(),
    sha256: text('sha256').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    registeredAt: integer('registered_at').notNull(),
    registeredBy: text('registered_by'),
    activatedAt: integer('activated_at'),
    // The training baseline attached at registration, if any.
    baselineId: integer('baseline_id'),
  },
  (t) => [
    primaryKey({ columns: [t.model, t.version] }),
    // One active version per model, whichever process activates.
    uniqueIndex('served_versions_active').on(t.model).where(sql`state = 'active'`),
  ],
);

/** Audit trail of a served model: registrations, activations, rollbacks, shadows, deletions. */
export const modelEvents = sqliteTable(
  'model_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    model: text('model').notNull(),
    at: integer('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    fromVersion: text('from_version'),
    toVersion: text('to_version'),
    note: text('note'),
  },
  (t) => [index('model_events_model').on(t.model, t.id)],
);

/** Shadow scoring, summed per bucket: how a candidate version agrees with the active one on live requests. */
export const shadowStats = sqliteTable(
  'shadow_stats',
  {
    model: text('model').notNull(),
    activeVersion: text('active_version').notNull(),
    shadowVersion: text('shadow_version').notNull(),
    bucketStart: integer('bucket_start').notNull(),
    bucketMs: integer('bucket_ms').notNull(),
    n: integer('n').notNull(),
    // Classification: equal predicted labels. Regression: sum of |active − shadow|.
    agree: integer('agree').notNull(),
    absDiffSum: real('abs_diff_sum').notNull(),
    activeLatencySum: real('active_latency_sum').notNull(),
    shadowLatencySum: real('shadow_latency_sum').notNull(),
    errors: integer('errors').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.activeVersion, t.shadowVersion, t.bucketStart, t.bucketMs] })],
);
