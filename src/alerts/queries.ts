import { and, desc, eq, inArray, ne, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { prepared } from '../db/statements.js';
import { alertEvents, alertEvidence, alerts, retrainRequests } from '../db/schema/index.js';
import type { AlertView, RetrainRequestView } from './types.js';

export type AlertRow = typeof alerts.$inferSelect;
export type RetrainRow = typeof retrainRequests.$inferSelect;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function alertView(r: AlertRow): AlertView {
  return {
    id: r.id,
    model: r.model,
    model_version: r.modelVersion === '' ? null : r.modelVersion,
    feature: r.feature,
    kind: r.kind,
    severity: r.severity,
    status: r.status,
    assignee: r.assignee,
    version: r.version,
    recovered: r.recoveredAt !== null,
    recovered_at: iso(r.recoveredAt),
    snoozed_until: iso(r.snoozedUntil),
    decision: r.decision,
    decision_note: r.decisionNote,
    evidence_count: r.evidenceCount,
    first_seen: iso(r.firstSeen) as string,
    last_seen: iso(r.lastSeen) as string,
    latest: JSON.parse(r.latest) as Record<string, unknown>,
    peak: JSON.parse(r.peak) as Record<string, unknown>,
    created_at: iso(r.createdAt) as string,
    updated_at: iso(r.updatedAt) as string,
    closed_at: iso(r.closedAt),
  };
}

export function retrainView(r: RetrainRow): RetrainRequestView {
  return {
    id: r.id,
    model: r.model,
    model_version: r.modelVersion === '' ? null : r.modelVersion,
    alert_ids: JSON.parse(r.alertIds) as number[],
    requested_by: r.requestedBy,
    reason: r.reason,
    status: r.status,
    produced_version: r.producedVersion,
    version: r.version,
    created_at: iso(r.createdAt) as string,
    updated_at: iso(r.updatedAt) as string,
  };
}

/** The alert still in review (not closed) for a (model, feature, kind), if any. */
export function openAlertFor(db: Database, model: string, feature: string, kind: AlertRow['kind']): AlertRow | undefined {
  return db.orm
    .select()
    .from(alerts)
    .where(and(eq(alerts.model, model), eq(alerts.feature, feature), eq(alerts.kind, kind), ne(alerts.status, 'closed')))
    .orderBy(desc(alerts.id))
    .get();
}

export function getAlert(db: Database, id: number): AlertRow | undefined {
  return db.orm.select().from(alerts).where(eq(alerts.id, id)).get();
}

export function insertAlert(db: Database, row: Omit<typeof alerts.$inferInsert, 'id'>): AlertRow {
  return db.orm.insert(alerts).values(row).returning().get();
}

/** Applies a change and (unless told otherwise) bumps the version; returns the updated row. */
export function updateAlert(
  db: Database,
  id: number,
  change: Partial<typeof alerts.$inferInsert>,
  now: number,
  options: { bumpVersion?: boolean } = {},
): AlertRow {
  const current = getAlert(db, id);
  if (!current) throw new Error(`alert ${id} vanished during an update`);
  const bump = options.bumpVersion !== false;
  return db.orm
    .update(alerts)
    .set({ ...change, version: current.version + (bump ? 1 : 0), updatedAt: bump ? now : current.updatedAt })
    .where(eq(alerts.id, id))
    .returning()
    .get();
}

export function hasEvidence(db: Database, alertId: number, driftResultId: number): boolean {
  return (
    db.orm
      .select({ id: alertEvidence.id })
      .from(alertEvidence)
      .where(and(eq(alertEvidence.alertId, alertId), eq(alertEvidence.driftResultId, driftResultId)))
      .get() !== undefined
  );
}

/** One evidence row per (alert, drift result): a re-evaluated window replaces its earlier measures. */
export function upsertEvidence(db: Database, row: Omit<typeof alertEvidence.$inferInsert, 'id'>): void {
  const updated = db.orm
    .update(alertEvidence)
    .set({ severity: row.severity, measures: row.measures, at: row.at })
    .where(and(eq(alertEvidence.alertId, row.alertId), eq(alertEvidence.driftResultId, row.driftResultId)))
    .run();
  if (updated.changes === 0) db.orm.insert(alertEvidence).values(row).run();
}

export function evidenceOf(db: Database, alertId: number, limit = 500) {
  return db.orm
    .select()
    .from(alertEvidence)
    .where(eq(alertEvidence.alertId, alertId))
    .orderBy(desc(alertEvidence.windowTo), desc(alertEvidence.id))
    .limit(limit)
    .all();
}

export function addEvent(db: Database, row: Omit<typeof alertEvents.$inferInsert, 'id'>): void {
  db.orm.insert(alertEvents).values(row).run();
}

export function eventsOf(db: Database, alertId: number) {
  return db.orm.select().from(alertEvents).where(eq(alertEvents.alertId, alertId)).orderBy(alertEvents.id).all();
}

export interface AlertFilter {
  status?: AlertRow['status'][] | undefined;
  model?: string | undefined;
  severity?: AlertRow['severity'] | undefined;
  assignee?: string | undefined;
  kind?: AlertRow['kind'] | undefined;
  limit: number;
}

/** Every alert still in review (not closed), oldest first. */
export function unclosedAlerts(db: Database): AlertRow[] {
  return db.orm.select().from(alerts).where(ne(alerts.status, 'closed')).orderBy(alerts.id).all();
}

/** Alerts that should be paging now: not closed, not recovered, and not in a running snooze. */
export function firingAlerts(db: Database, now: number): AlertRow[] {
  return unclosedAlerts(db).filter(
    (a) => a.recoveredAt === null && !(a.status === 'snoozed' && a.snoozedUntil !== null && a.snoozedUntil > now),
  );
}

export function listAlerts(db: Database, f: AlertFilter): AlertRow[] {
  const where: (SQL | undefined)[] = [
    f.status ? inArray(alerts.status, f.status) : undefined,
    f.model ? eq(alerts.model, f.model) : undefined,
    f.severity ? eq(alerts.severity, f.severity) : undefined,
    f.assignee ? eq(alerts.assignee, f.assignee) : undefined,
    f.kind ? eq(alerts.kind, f.kind) : undefined,
  ];
  return db.orm
    .select()
    .from(alerts)
    .where(and(...where))
    .orderBy(desc(alerts.lastSeen), desc(alerts.id))
    .limit(f.limit)
    .all();
}

export function insertRetrain(db: Database, row: Omit<typeof retrainRequests.$inferInsert, 'id'>): RetrainRow {
  return db.orm.insert(retrainRequests).values(row).returning().get();
}

export function getRetrain(db: Database, id: number): RetrainRow | undefined {
  return db.orm.select().from(retrainRequests).where(eq(retrainRequests.id, id)).get();
}

export function updateRetrain(db: Database, id: number, change: Partial<typeof retrainRequests.$inferInsert>, now: number): RetrainRow {
  const current = getRetrain(db, id);
  if (!current) throw new Error(`retrain request ${id} vanished during an update`);
  return db.orm
    .update(retrainRequests)
    .set({ ...change, version: current.version + 1, updatedAt: now })
    .where(eq(retrainRequests.id, id))
    .returning()
    .get();
}

export function listRetrain(db: Database, f: { model?: string | undefined; status?: RetrainRow['status'] | undefined; limit: number }) {
  return db.orm
    .select()
    .from(retrainRequests)
    .where(and(f.model ? eq(retrainRequests.model, f.model) : undefined, f.status ? eq(retrainRequests.status, f.status) : undefined))
    .orderBy(desc(retrainRequests.id))
    .limit(f.limit)
    .all();
}

export function retrainForAlert(db: Database, alertId: number): RetrainRow[] {
  return db.orm
    .select()
    .from(retrainRequests)
    .all()
    .filter((r) => (JSON.parse(r.alertIds) as number[]).includes(alertId));
}

/** Feature names of the model's active baselines, for showing its alert policy. */
export function activeFeatureNames(db: Database, model: string): string[] {
  return (
    db.sqlite
      .prepare(
        `SELECT DISTINCT c.name FROM baseline_columns c JOIN baselines b ON b.id = c.baseline_id
         WHERE b.model = ? AND b.active = 1 AND c.role = 'feature' ORDER BY c.name`,
      )
      .all(model) as { name: string }[]
  ).map((r) => r.name);
}

export function latestEvidenceTo(db: Database, alertId: number): number | null {
  return (prepared(db, 'SELECT max(window_to) AS t FROM alert_evidence WHERE alert_id = ?').get(alertId) as { t: number | null }).t;
}

/** Snoozed alerts whose snooze has ended by `now`. */
export function dueSnoozed(db: Database, now: number): number[] {
  return (prepared(db, "SELECT id FROM alerts WHERE status = 'snoozed' AND snoozed_until <= ?").all(now) as { id: number }[]).map(
    (r) => r.id,
  );
}
