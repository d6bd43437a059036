import { and, asc, count, desc, eq, inArray, lte, ne, type SQL, sql } from 'drizzle-orm';
import type {
  AlertChange,
  AlertCount,
  AlertEventRow,
  AlertFilter,
  AlertKind,
  AlertRow,
  AlertStore,
  EvidenceRow,
  NewAlert,
  NewRetrain,
  RetrainRow,
  RetrainStatus,
} from '../types.js';
import type { Connection } from './client.js';
import { alertEvents, alertEvidence, alerts, retrainRequests } from './schema/index.js';

export class SqliteAlerts implements AlertStore {
  constructor(private readonly c: Connection) {}

  async openFor(model: string, feature: string, kind: AlertKind): Promise<AlertRow | undefined> {
    return this.c.orm
      .select()
      .from(alerts)
      .where(
        and(
          eq(alerts.model, model),
          eq(alerts.feature, feature),
          eq(alerts.kind, kind),
          ne(alerts.status, 'closed'),
        ),
      )
      .get();
  }

  async get(id: number): Promise<AlertRow | undefined> {
    return this.c.orm.select().from(alerts).where(eq(alerts.id, id)).get();
  }

  async insert(row: NewAlert): Promise<AlertRow | undefined> {
    // The partial unique index alerts_open_key refuses a second alert in review for the same key.
    return this.c.orm.insert(alerts).values(row).onConflictDoNothing().returning().get();
  }

  async update(
    id: number,
    expectVersion: number,
    change: AlertChange,
    now: number,
    options: { bumpVersion?: boolean } = {},
  ) {
    const bump = options.bumpVersion !== false;
    const set: Partial<typeof alerts.$inferInsert> = { ...change, version: expectVersion + (bump ? 1 : 0) };
    if (bump) set.updatedAt = now;
    return this.c.orm
      .update(alerts)
      .set(set)
      .where(and(eq(alerts.id, id), eq(alerts.version, expectVersion)))
      .returning()
      .get();
  }

  async hasEvidence(alertId: number, driftResultId: number): Promise<boolean> {
    return (
      this.c
        .prepared('SELECT 1 FROM alert_evidence WHERE alert_id = ? AND drift_result_id = ?')
        .get(alertId, driftResultId) !== undefined
    );
  }

  async upsertEvidence(row: EvidenceRow): Promise<void> {
    const updated = this.c.orm
      .update(alertEvidence)
      .set({ severity: row.severity, measures: row.measures, at: row.at })
      .where(and(eq(alertEvidence.alertId, row.alertId), eq(alertEvidence.driftResultId, row.driftResultId)))
      .run();
    if (updated.changes === 0) this.c.orm.insert(alertEvidence).values(row).run();
  }

  async evidence(alertId: number, limit = 500): Promise<EvidenceRow[]> {
    const rows = this.c.orm
      .select()
      .from(alertEvidence)
      .where(eq(alertEvidence.alertId, alertId))
      .orderBy(desc(alertEvidence.windowTo), desc(alertEvidence.id))
      .limit(limit)
      .all();
    return rows.map(({ id: _id, ...r }) => ({
      ...r,
      windowKind: r.windowKind as EvidenceRow['windowKind'],
      severity: r.severity as EvidenceRow['severity'],
    }));
  }

  async latestEvidenceTo(alertId: number): Promise<number | null> {
    return (
      this.c.prepared('SELECT max(window_to) AS t FROM alert_evidence WHERE alert_id = ?').get(alertId) as {
        t: number | null;
      }
    ).t;
  }

  async addEvent(row: AlertEventRow): Promise<void> {
    this.c.orm.insert(alertEvents).values(row).run();
  }

  async events(alertId: number): Promise<AlertEventRow[]> {
    return this.c.orm
      .select()
      .from(alertEvents)
      .where(eq(alertEvents.alertId, alertId))
      .orderBy(alertEvents.id)
      .all()
      .map(({ id: _id, ...r }) => r);
  }

  async list(f: AlertFilter): Promise<AlertRow[]> {
    const where: (SQL | undefined)[] = [
      f.status ? inArray(alerts.status, f.status) : undefined,
      f.model ? eq(alerts.model, f.model) : undefined,
      f.severity ? eq(alerts.severity, f.severity) : undefined,
      f.assignee ? eq(alerts.assignee, f.assignee) : undefined,
      f.kind ? eq(alerts.kind, f.kind) : undefined,
    ];
    return this.c.orm
      .select()
      .from(alerts)
      .where(and(...where))
      .orderBy(
        ...(f.order === 'triage'
          ? [
              sql`CASE ${alerts.severity} WHEN 'critical' THEN 0 ELSE 1 END`,
              asc(alerts.createdAt),
              asc(alerts.id),
            ]
          : [desc(alerts.lastSeen), desc(alerts.id)]),
      )
      .limit(f.limit)
      .all();
  }

  async counts(f: Pick<AlertFilter, 'model' | 'assignee' | 'kind'>): Promise<AlertCount[]> {
    const rows = await this.c.orm
      .select({ status: alerts.status, severity: alerts.severity, n: count() })
      .from(alerts)
      .where(
        and(
          f.model ? eq(alerts.model, f.model) : undefined,
          f.assignee ? eq(alerts.assignee, f.assignee) : undefined,
          f.kind ? eq(alerts.kind, f.kind) : undefined,
        ),
      )
      .groupBy(alerts.status, alerts.severity)
      .all();
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  async unclosed(): Promise<AlertRow[]> {
    return this.c.orm.select().from(alerts).where(ne(alerts.status, 'closed')).orderBy(alerts.id).all();
  }

  async dueSnoozed(now: number): Promise<AlertRow[]> {
    return this.c.orm
      .select()
      .from(alerts)
      .where(and(eq(alerts.status, 'snoozed'), lte(alerts.snoozedUntil, now)))
      .orderBy(alerts.id)
      .all();
  }

  async insertRetrain(row: NewRetrain): Promise<RetrainRow> {
    return this.c.orm.insert(retrainRequests).values(row).returning().get();
  }

  async getRetrain(id: number): Promise<RetrainRow | undefined> {
    return this.c.orm.select().from(retrainRequests).where(eq(retrainRequests.id, id)).get();
  }

  async updateRetrain(
    id: number,
    expectVersion: number,
    change: Partial<Pick<RetrainRow, 'status' | 'producedVersion'>>,
    now: number,
  ) {
    return this.c.orm
      .update(retrainRequests)
      .set({ ...change, version: expectVersion + 1, updatedAt: now })
      .where(and(eq(retrainRequests.id, id), eq(retrainRequests.version, expectVersion)))
      .returning()
      .get();
  }

  async listRetrain(f: {
    model?: string | undefined;
    status?: RetrainStatus | undefined;
    limit: number;
  }): Promise<RetrainRow[]> {
    return this.c.orm
      .select()
      .from(retrainRequests)
      .where(
        and(
          f.model ? eq(retrainRequests.model, f.model) : undefined,
          f.status ? eq(retrainRequests.status, f.status) : undefined,
        ),
      )
      .orderBy(desc(retrainRequests.id))
      .limit(f.limit)
      .all();
  }

  async retrainForAlert(alertId: number): Promise<RetrainRow[]> {
    return this.c
      .prepared(
        `SELECT id, model, model_version AS modelVersion, alert_ids AS alertIds, requested_by AS requestedBy, reason, status,
           produced_version AS producedVersion, version, created_at AS createdAt, updated_at AS updatedAt
         FROM retrain_requests WHERE EXISTS (SELECT 1 FROM json_each(alert_ids) WHERE value = ?) ORDER BY id`,
      )
      .all(alertId) as RetrainRow[];
  }
}
