import { alertView, firingAlerts } from '../alerts/queries.js';
import type { AlertView } from '../alerts/types.js';
import type { Database } from '../db/client.js';
import { prepared } from '../db/statements.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRow {
  id: number;
  channel: string;
  event: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

/** The event name of Alertmanager keep-alive deliveries (not a NotificationEventType: no one announces it). */
export const RESEND_EVENT = 'alert.resend';

export function insertDelivery(
  db: Database,
  d: { channel: string; event: string; payload: string; now: number },
): number {
  const info = prepared(
    db,
    `INSERT INTO deliveries (channel, event, payload, status, attempts, next_attempt_at, created_at)
     VALUES (?, ?, ?, 'pending', 0, ?, ?)`,
  ).run(d.channel, d.event, d.payload, d.now, d.now);
  return Number(info.lastInsertRowid);
}

/** Due pending deliveries, oldest first (the index on status, next_attempt_at serves this). */
/**
 * Due deliveries in queue order. A channel's deliveries go out in the order they were queued, so one
 * waiting for a retry holds back the later ones of its channel (an alert's "closed" never overtakes its
 * "opened"); other channels are unaffected.
 */
export function dueDeliveries(db: Database, now: number, limit: number): DeliveryRow[] {
  return prepared(
    db,
    `SELECT * FROM deliveries d WHERE status = 'pending' AND next_attempt_at <= @now
       AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = d.channel AND e.status = 'pending'
                       AND e.id < d.id AND e.next_attempt_at > @now)
     ORDER BY id LIMIT @limit`,
  ).all({ now, limit }) as DeliveryRow[];
}

export function markDelivered(db: Database, id: number, attempts: number, now: number): void {
  prepared(db, `UPDATE deliveries SET status = 'delivered', attempts = ?, delivered_at = ? WHERE id = ?`).run(
    attempts,
    now,
    id,
  );
}

export function markAttemptFailed(
  db: Database,
  id: number,
  f: { status: 'pending' | 'failed'; attempts: number; lastError: string; nextAttemptAt: number },
): void {
  prepared(
    db,
    'UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?',
  ).run(f.status, f.attempts, f.lastError, f.nextAttemptAt, id);
}

export function getDelivery(db: Database, id: number): DeliveryRow | undefined {
  return prepared(db, 'SELECT * FROM deliveries WHERE id = ?').get(id) as DeliveryRow | undefined;
}

export function listDeliveries(
  db: Database,
  q: { status?: DeliveryStatus | undefined; channel?: string | undefined; limit: number },
): DeliveryRow[] {
  return prepared(
    db,
    `SELECT * FROM deliveries WHERE (@status IS NULL OR status = @status) AND (@channel IS NULL OR channel = @channel)
     ORDER BY id DESC LIMIT @limit`,
  ).all({ status: q.status ?? null, channel: q.channel ?? null, limit: q.limit }) as DeliveryRow[];
}

/** A failed delivery back to pending, due now, with a fresh round of attempts; false when it was not failed. */
export function requeueFailed(db: Database, id: number, now: number): boolean {
  return (
    prepared(
      db,
      `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? AND status = 'failed'`,
    ).run(now, id).changes === 1
  );
}

export function pendingResend(db: Database, channel: string): { id: number } | undefined {
  return prepared(
    db,
    `SELECT id FROM deliveries WHERE channel = ? AND event = ? AND status = 'pending' ORDER BY id DESC LIMIT 1`,
  ).get(channel, RESEND_EVENT) as { id: number } | undefined;
}

export function replacePayload(db: Database, id: number, payload: string): void {
  prepared(db, 'UPDATE deliveries SET payload = ? WHERE id = ?').run(payload, id);
}

export function deleteDelivery(db: Database, id: number): void {
  prepared(db, 'DELETE FROM deliveries WHERE id = ?').run(id);
}

/** Alerts that should be firing in Alertmanager now (not closed, not recovered, not snoozed), oldest first. */
export function firingAlertViews(db: Database, now: number): AlertView[] {
  return firingAlerts(db, now).map(alertView);
}
