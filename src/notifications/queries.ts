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
export function dueDeliveries(db: Database, now: number, limit: number): DeliveryRow[] {
  return prepared(
    db,
    `SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?
     ORDER BY next_attempt_at, id LIMIT ?`,
  ).all(now, limit) as DeliveryRow[];
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

interface AlertRow {
  id: number;
  model: string;
  model_version: string;
  feature: string;
  kind: AlertView['kind'];
  severity: AlertView['severity'];
  status: AlertView['status'];
  assignee: string | null;
  version: number;
  recovered_at: number | null;
  snoozed_until: number | null;
  decision: string | null;
  decision_note: string | null;
  evidence_count: number;
  first_seen: number;
  last_seen: number;
  latest: string;
  peak: string;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

function parseMeasures(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** An alerts row as AlertView; the table stores an unversioned model as ''. */
export function alertViewOfRow(r: AlertRow): AlertView {
  return {
    id: r.id,
    model: r.model,
    model_version: r.model_version === '' ? null : r.model_version,
    feature: r.feature,
    kind: r.kind,
    severity: r.severity,
    status: r.status,
    assignee: r.assignee,
    version: r.version,
    recovered: r.recovered_at !== null,
    recovered_at: isoOrNull(r.recovered_at),
    snoozed_until: isoOrNull(r.snoozed_until),
    decision: r.decision,
    decision_note: r.decision_note,
    evidence_count: r.evidence_count,
    first_seen: iso(r.first_seen),
    last_seen: iso(r.last_seen),
    latest: parseMeasures(r.latest),
    peak: parseMeasures(r.peak),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    closed_at: isoOrNull(r.closed_at),
  };
}

/** Every alert not closed (open, acknowledged, decided, snoozed), oldest first. */
export function unclosedAlerts(db: Database): AlertView[] {
  const rows = prepared(db, `SELECT * FROM alerts WHERE status <> 'closed' ORDER BY id`).all() as AlertRow[];
  return rows.map(alertViewOfRow);
}
