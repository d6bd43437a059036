import { sql } from 'drizzle-orm';
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
import { ALERT_KINDS } from '../../../views.js';
import { ms } from './columns.js';

export const alerts = pgTable(
  'alerts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    feature: text('feature').notNull(),
    kind: text('kind', { enum: ALERT_KINDS }).notNull(),
    severity: text('severity', { enum: ['warning', 'critical'] }).notNull(),
    status: text('status', { enum: ['open', 'acknowledged', 'decided', 'snoozed', 'closed'] }).notNull(),
    assignee: text('assignee'),
    version: integer('version').notNull().default(1),
    recoveredAt: ms('recovered_at'),
    snoozedUntil: ms('snoozed_until'),
    decision: text('decision', { enum: ['retrain', 'accept_shift', 'rollback', 'false_positive', 'snooze'] }),
    decisionNote: text('decision_note'),
    evidenceCount: integer('evidence_count').notNull().default(0),
    firstSeen: ms('first_seen').notNull(),
    lastSeen: ms('last_seen').notNull(),
    peakPsi: doublePrecision('peak_psi'),
    latest: text('latest').notNull(),
    peak: text('peak').notNull(),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
    closedAt: ms('closed_at'),
  },
  (t) => [
    index('alerts_status').on(t.status, t.model),
    index('alerts_key').on(t.model, t.feature, t.kind, t.status),
    uniqueIndex('alerts_open_key').on(t.model, t.feature, t.kind).where(sql`status <> 'closed'`),
  ],
);

export const alertEvidence = pgTable(
  'alert_evidence',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    alertId: ms('alert_id')
      .notNull()
      .references(() => alerts.id, { onDelete: 'cascade' }),
    driftResultId: ms('drift_result_id').notNull(),
    windowKind: text('window_kind').notNull(),
    windowFrom: ms('window_from').notNull(),
    windowTo: ms('window_to').notNull(),
    severity: text('severity').notNull(),
    measures: text('measures').notNull(),
    at: ms('at').notNull(),
  },
  (t) => [index('alert_evidence_alert').on(t.alertId, t.windowTo)],
);

export const alertEvents = pgTable(
  'alert_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    alertId: ms('alert_id')
      .notNull()
      .references(() => alerts.id, { onDelete: 'cascade' }),
    at: ms('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status'),
    note: text('note'),
    data: text('data'),
  },
  (t) => [index('alert_events_alert').on(t.alertId, t.id)],
);

export const retrainRequests = pgTable('retrain_requests', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  model: text('model').notNull(),
  modelVersion: text('model_version').notNull(),
  alertIds: text('alert_ids').notNull(),
  requestedBy: text('requested_by').notNull(),
  reason: text('reason').notNull(),
  status: text('status', { enum: ['requested', 'accepted', 'in_progress', 'done', 'rejected'] }).notNull(),
  producedVersion: text('produced_version'),
  version: integer('version').notNull().default(1),
  createdAt: ms('created_at').notNull(),
  updatedAt: ms('updated_at').notNull(),
});

export const thresholdOverrides = pgTable(
  'threshold_overrides',
  {
    model: text('model').notNull(),
    feature: text('feature').notNull(),
    psiWarning: doublePrecision('psi_warning'),
    psiCritical: doublePrecision('psi_critical'),
    alpha: doublePrecision('alpha'),
    setBy: text('set_by').notNull(),
    reason: text('reason'),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.feature] })],
);

export const deliveries = pgTable(
  'deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    channel: text('channel').notNull(),
    event: text('event').notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ms('next_attempt_at').notNull(),
    lastError: text('last_error'),
    createdAt: ms('created_at').notNull(),
    deliveredAt: ms('delivered_at'),
    reportRunId: ms('report_run_id'),
  },
  (t) => [
    index('deliveries_due').on(t.status, t.nextAttemptAt),
    uniqueIndex('deliveries_report_run').on(t.reportRunId),
  ],
);

export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: ms('expires_at').notNull(),
  acquiredAt: ms('acquired_at').notNull(),
});

export const jobState = pgTable('job_state', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: ms('updated_at').notNull(),
});
