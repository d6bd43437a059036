import { sql } from 'drizzle-orm';
import { bigserial, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/** See the SQLite schema: one scheduled report per (schedule, slot), with its rendered message. */
export const reportRuns = pgTable(
  'report_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    schedule: text('schedule').notNull(),
    slot: ms('slot').notNull(),
    periodFrom: ms('period_from').notNull(),
    periodTo: ms('period_to').notNull(),
    status: text('status', { enum: ['pending', 'sent', 'failed', 'skipped'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ms('next_attempt_at').notNull(),
    messageId: text('message_id'),
    error: text('error'),
    subject: text('subject').notNull(),
    html: text('html').notNull(),
    text: text('text').notNull(),
    images: text('images').notNull().default('[]'),
    createdAt: ms('created_at').notNull(),
    sentAt: ms('sent_at'),
    alertId: ms('alert_id'),
  },
  (t) => [
    // Scheduled runs: one per (schedule, slot). Critical-alert runs: one per alert.
    uniqueIndex('report_runs_slot').on(t.schedule, t.slot).where(sql`alert_id IS NULL`),
    uniqueIndex('report_runs_alert').on(t.alertId),
    index('report_runs_due').on(t.status, t.nextAttemptAt),
  ],
);
