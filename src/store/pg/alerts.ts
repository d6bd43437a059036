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
import type { PgConn } from './client.js';
import { alertEvents, alertEvidence, alerts, retrainRequests } from './schema/index.js';

export class PgAlerts implements AlertStore {
  constructor(private readonly c: PgConn) {}

  async openFor(model: string, feature: string, kind: AlertKind): Promise<AlertRow | undefined> {
    const rows = await this.c.orm
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
      .limit(1);
    return rows[0];
  }

  async get(id: number): Promise<AlertRow | undefined> {
    const rows = await this.c.orm.select().from(alerts).where(eq(alerts.id, id));
    return rows[0];
  }

  async insert(row: NewAlert): Promise<AlertRow | undefined> {
    // The partial unique index alerts_open_key refuses a second alert in review for the same key; a
    // concurrent insert of the same key waits for the first to commit, then does nothing.
    const rows = await this.c.orm
      .insert(alerts)
      .values(row)
      .onConflictDoNothing({
        target: [alerts.model, alerts.feature, alerts.kind],
        where: sql`status <> 'closed'`,
      })
      .returning();
    return rows[0];
  }

  async update(
    id: number,
    expectVersion: number,
    change: AlertChange,
    now: number,
    options: { bumpVersion?: boolean } = {},
  ): Promise<AlertRow | undefined> {
    const bump = options.bumpVersion !== false;
    const set: Partial<typeof alerts.$inferInsert> = { ...change, version: expectVersion + (bump ? 1 : 0) };
    if (bump) set.updatedAt = now;
    // Compare-and-set: a concurrent update of the same row waits for the row lock, then re-checks the version.
    const rows = await this.c.orm
      .update(alerts)
      .set(set)
      .where(and(eq(alerts.id, id), eq(alerts.version, expectVersion)))
      .returning();
    return rows[0];
  }

  async hasEvidence(alertId: number, driftResultId: number): Promise<boolean> {
    const rows = await this.c.rows(
      'SELECT 1 FROM alert_evidence WHERE alert_id = $1 AND drift_result_id = $2 LIMIT 1',
      [alertId, driftResultId],
    );
    return rows.length > 0;
  }

  async upsertEvidence(row: EvidenceRow): Promise<void> {
    // There is no unique index on (alert, drift result), as in SQLite: update, else insert. Evidence is
    // written by the drift tick (one job leader) together with a compare-and-set on the alert's version.
    const updated = await this.c.run(
      'UPDATE alert_evidence SET severity = $3, measures = $4, at = $5 WHERE alert_id = $1 AND drift_result_id = $2',
      [row.alertId, row.driftResultId, row.severity, row.measures, row.at],
    );
    if (updated === 0) await this.c.orm.insert(alertEvidence).values(row);
  }

  async evidence(alertId: number, limit = 500): Promise<EvidenceRow[]> {
    const rows = await this.c.orm
      .select()
      .from(alertEvidence)
      .where(eq(alertEvidence.alertId, alertId))
      .orderBy(desc(alertEvidence.windowTo), desc(alertEvidence.id))
      .limit(limit);
    return rows.map(({ id: _id, ...r }) => ({
      ...r,
      windowKind: r.windowKind as EvidenceRow['windowKind'],
      severity: r.severity as EvidenceRow['severity'],
    }));
  }

  async latestEvidenceTo(alertId: number): Promise<number | null> {
    const rows = await this.c.rows<{ t: number | null }>(
      'SELECT max(window_to) AS t FROM alert_evidence WHERE alert_id = $1',
      [alertId],
    );
    return rows[0]?.t ?? null;
  }

  async addEvent(row: AlertEventRow): Promise<void> {
    await this.c.orm.insert(alertEvents).values(row);
  }

  async events(alertId: number): Promise<AlertEventRow[]> {
    const rows = await this.c.orm
      .select()
      .from(alertEvents)
      .where(eq(alertEvents.alertId, alertId))
      .orderBy(alertEvents.id);
    return rows.map(({ id: _id, ...r }) => r);
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
      .limit(f.limit);
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
      .groupBy(alerts.status, alerts.severity);
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  async unclosed(): Promise<AlertRow[]> {
    return this.c.orm.select().from(alerts).where(ne(alerts.status, 'closed')).orderBy(alerts.id);
  }

  async dueSnoozed(now: number): Promise<AlertRow[]> {
    return this.c.orm
      .select()
      .from(alerts)
      .where(and(eq(alerts.status, 'snoozed'), lte(alerts.snoozedUntil, now)))
      .orderBy(alerts.id);
  }

  async insertRetrain(row: NewRetrain): Promise<RetrainRow> {
    const rows = await this.c.orm.insert(retrainRequests).values(row).returning();
    const inserted = rows[0];
    if (!inserted) throw new Error('INSERT … RETURNING gave no row');
    return inserted;
  }

  async getRetrain(id: number): Promise<RetrainRow | undefined> {
    const rows = await this.c.orm.select().from(retrainRequests).where(eq(retrainRequests.id, id));
    return rows[0];
  }

  async updateRetrain(
    id: number,
    expectVersion: number,
    change: Partial<Pick<RetrainRow, 'status' | 'producedVersion'>>,
    now: number,
  ): Promise<RetrainRow | undefined> {
    const rows = await this.c.orm
      .update(retrainRequests)
      .set({ ...change, version: expectVersion + 1, updatedAt: now })
      .where(and(eq(retrainRequests.id, id), eq(retrainRequests.version, expectVersion)))
      .returning();
    return rows[0];
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
      .limit(f.limit);
  }

  async retrainForAlert(alertId: number): Promise<RetrainRow[]> {
    // alert_ids is a JSON array of numbers; jsonb containment of a one-element array matches one of them.
    return this.c.orm
      .select()
      .from(retrainRequests)
      .where(sql`${retrainRequests.alertIds}::jsonb @> jsonb_build_array(${alertId}::int8)`)
      .orderBy(retrainRequests.id);
  }
}
