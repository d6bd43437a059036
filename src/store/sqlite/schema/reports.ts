import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * One scheduled email report: the slot (the scheduled time it is for) of a schedule, the message as
 * rendered (kept so a retry re-sends the same mail), and its delivery. Unique per (schedule, slot): a
 * second process, or a new leader, never sends a slot twice.
 */
export const reportRuns = sqliteTable(
  'report_runs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    schedule: text('schedule').notNull(),
    slot: integer('slot').notNull(),
    periodFrom: integer('period_from').notNull(),
    periodTo: integer('period_to').notNull(),
    status: text('status', { enum: ['pending', 'sent', 'failed', 'skipped'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    messageId: text('message_id'),
    error: text('error'),
    subject: text('subject').notNull(),
    html: text('html').notNull(),
    text: text('text').notNull(),
    // JSON: the inline PNG charts, base64 with their cid, so a re-send carries them too.
    images: text('images').notNull().default('[]'),
    createdAt: integer('created_at').notNull(),
    sentAt: integer('sent_at'),
    // Set on the immediate mail about a critical alert (reports.critical): one run per alert, ever.
    alertId: integer('alert_id'),
  },
  (t) => [
    // Scheduled runs: one per (schedule, slot). Critical-alert runs: one per alert.
    uniqueIndex('report_runs_slot').on(t.schedule, t.slot).where(sql`alert_id IS NULL`),
    uniqueIndex('report_runs_alert').on(t.alertId),
    index('report_runs_due').on(t.status, t.nextAttemptAt),
  ],
);
