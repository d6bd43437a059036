import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { ALERT_KINDS } from '../../../views.js';

/** A drift or data-quality finding waiting for, or having had, a person's review. */
export const alerts = sqliteTable(
  'alerts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    feature: text('feature').notNull(),
    kind: text('kind', { enum: ALERT_KINDS }).notNull(),
    severity: text('severity', { enum: ['warning', 'critical'] }).notNull(),
    status: text('status', { enum: ['open', 'acknowledged', 'decided', 'snoozed', 'closed'] }).notNull(),
    assignee: text('assignee'),
    // Optimistic concurrency: every change bumps it; writers send the version they saw (If-Match).
    version: integer('version').notNull().default(1),
    // Set when the feature's latest window is back to normal; a person still closes the alert.
    recoveredAt: integer('recovered_at'),
    snoozedUntil: integer('snoozed_until'),
    decision: text('decision', { enum: ['retrain', 'accept_shift', 'rollback', 'false_positive', 'snooze'] }),
    decisionNote: text('decision_note'),
    evidenceCount: integer('evidence_count').notNull().default(0),
    firstSeen: integer('first_seen').notNull(),
    lastSeen: integer('last_seen').notNull(),
    peakPsi: real('peak_psi'),
    // JSON of the latest window's measures for this feature.
    latest: text('latest').notNull(),
    // JSON of the measures of the window with the highest PSI.
    peak: text('peak').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    closedAt: integer('closed_at'),
  },
  (t) => [
    index('alerts_status').on(t.status, t.model),
    index('alerts_key').on(t.model, t.feature, t.kind, t.status),
    // At most one alert in review per (model, feature, kind), however many writers raise it.
    uniqueIndex('alerts_open_key').on(t.model, t.feature, t.kind).where(sql`status <> 'closed'`),
  ],
);

/** Every drift window that attached to an alert: the stats history behind it. */
export const alertEvidence = sqliteTable(
  'alert_evidence',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    alertId: integer('alert_id')
      .notNull()
      .references(() => alerts.id, { onDelete: 'cascade' }),
    driftResultId: integer('drift_result_id').notNull(),
    windowKind: text('window_kind').notNull(),
    windowFrom: integer('window_from').notNull(),
    windowTo: integer('window_to').notNull(),
    severity: text('severity').notNull(),
    measures: text('measures').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('alert_evidence_alert').on(t.alertId, t.windowTo)],
);

/** Append-only audit trail: who changed what on an alert, when, and why. Comments live here too. */
export const alertEvents = sqliteTable(
  'alert_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    alertId: integer('alert_id')
      .notNull()
      .references(() => alerts.id, { onDelete: 'cascade' }),
    at: integer('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status'),
    note: text('note'),
    data: text('data'),
  },
  (t) => [index('alert_events_alert').on(t.alertId, t.id)],
);

export const retrainRequests = sqliteTable('retrain_requests', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  model: text('model').notNull(),
  modelVersion: text('model_version').notNull(),
  alertIds: text('alert_ids').notNull(),
  requestedBy: text('requested_by').notNull(),
  reason: text('reason').notNull(),
  status: text('status', { enum: ['requested', 'accepted', 'in_progress', 'done', 'rejected'] }).notNull(),
  producedVersion: text('produced_version'),
  version: integer('version').notNull().default(1),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** Per-feature alert thresholds set through the API (e.g. raised after a false positive); win over config. */
export const thresholdOverrides = sqliteTable(
  'threshold_overrides',
  {
    model: text('model').notNull(),
    feature: text('feature').notNull(),
    psiWarning: real('psi_warning'),
    psiCritical: real('psi_critical'),
    alpha: real('alpha'),
    setBy: text('set_by').notNull(),
    reason: text('reason'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.feature] })],
);

/**
 * The outbox of every channel (webhooks, Slack, Alertmanager, email reports), queued in the same transaction
 * as the change it announces, sent by one delivery loop.
 */
export const deliveries = sqliteTable(
  'deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    channel: text('channel').notNull(),
    event: text('event').notNull(),
    // JSON body to send (already shaped for the channel's type).
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
    // Set on an email delivery (channel "email"): the report run whose rendered mail it sends. Unique: a
    // report run is mailed by one delivery, so once across processes.
    reportRunId: integer('report_run_id'),
  },
  (t) => [
    index('deliveries_due').on(t.status, t.nextAttemptAt),
    uniqueIndex('deliveries_report_run').on(t.reportRunId),
  ],
);
