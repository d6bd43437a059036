import { insertInto, type Param, type Sql, selectList, setList, whereAll } from '../sql.js';
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
import { alertEvents, alertEvidence, alerts, retrainRequests } from './tables.js';

const ALERT = selectList(alerts);
const RETRAIN = selectList(retrainRequests);
const EVIDENCE = selectList(alertEvidence);
const EVENT = selectList(alertEvents);

export class Alerts implements AlertStore {
  constructor(private readonly db: Sql) {}

  async openFor(model: string, feature: string, kind: AlertKind): Promise<AlertRow | undefined> {
    return this.db.one<AlertRow>(
      `SELECT ${ALERT} FROM alerts WHERE model = ? AND feature = ? AND kind = ? AND status <> 'closed' LIMIT 1`,
      [model, feature, kind],
    );
  }

  async get(id: number): Promise<AlertRow | undefined> {
    return this.db.one<AlertRow>(`SELECT ${ALERT} FROM alerts WHERE id = ?`, [id]);
  }

  async insert(row: NewAlert): Promise<AlertRow | undefined> {
    // The partial unique index alerts_open_key refuses a second alert in review for the same key; on
    // PostgreSQL a concurrent insert of the same key waits for the first to commit, then does nothing.
    const ins = insertInto(alerts, row);
    return this.db.one<AlertRow>(
      `${ins.text} ON CONFLICT (model, feature, kind) WHERE status <> 'closed' DO NOTHING RETURNING ${ALERT}`,
      ins.params,
    );
  }

  async update(
    id: number,
    expectVersion: number,
    change: AlertChange,
    now: number,
    options: { bumpVersion?: boolean } = {},
  ): Promise<AlertRow | undefined> {
    const bump = options.bumpVersion !== false;
    const set = setList(alerts, {
      ...change,
      version: expectVersion + (bump ? 1 : 0),
      ...(bump ? { updatedAt: now } : {}),
    });
    // Compare-and-set: a concurrent update of the same row waits for the row lock, then re-checks the version.
    return this.db.one<AlertRow>(
      `UPDATE alerts SET ${set.text} WHERE id = ? AND version = ? RETURNING ${ALERT}`,
      [...set.params, id, expectVersion],
    );
  }

  async hasEvidence(alertId: number, driftResultId: number): Promise<boolean> {
    const row = await this.db.one(
      'SELECT 1 FROM alert_evidence WHERE alert_id = ? AND drift_result_id = ? LIMIT 1',
      [alertId, driftResultId],
    );
    return row !== undefined;
  }

  async upsertEvidence(row: EvidenceRow): Promise<void> {
    // No unique index on (alert, drift result): update, else insert. Evidence is written by the drift tick
    // (one job leader) together with a compare-and-set on the alert's version.
    const updated = await this.db.run(
      'UPDATE alert_evidence SET severity = ?, measures = ?, at = ? WHERE alert_id = ? AND drift_result_id = ?',
      [row.severity, row.measures, row.at, row.alertId, row.driftResultId],
    );
    if (updated === 0) {
      const ins = insertInto(alertEvidence, row);
      await this.db.run(ins.text, ins.params);
    }
  }

  async evidence(alertId: number, limit = 500): Promise<EvidenceRow[]> {
    const rows = await this.db.rows<EvidenceRow & { id: number }>(
      `SELECT ${EVIDENCE} FROM alert_evidence WHERE alert_id = ? ORDER BY window_to DESC, id DESC LIMIT ?`,
      [alertId, limit],
    );
    return rows.map(({ id: _id, ...r }) => r);
  }

  async latestEvidenceTo(alertId: number): Promise<number | null> {
    const row = await this.db.one<{ t: number | null }>(
      'SELECT max(window_to) AS t FROM alert_evidence WHERE alert_id = ?',
      [alertId],
    );
    return row?.t ?? null;
  }

  async addEvent(row: AlertEventRow): Promise<void> {
    const ins = insertInto(alertEvents, row);
    await this.db.run(ins.text, ins.params);
  }

  async events(alertId: number): Promise<AlertEventRow[]> {
    const rows = await this.db.rows<AlertEventRow & { id: number }>(
      `SELECT ${EVENT} FROM alert_events WHERE alert_id = ? ORDER BY id`,
      [alertId],
    );
    return rows.map(({ id: _id, ...r }) => r);
  }

  async list(f: AlertFilter): Promise<AlertRow[]> {
    const where = alertFilter(f);
    const order =
      f.order === 'triage'
        ? "CASE severity WHEN 'critical' THEN 0 ELSE 1 END, created_at, id"
        : 'last_seen DESC, id DESC';
    return this.db.rows<AlertRow>(`SELECT ${ALERT} FROM alerts ${where.text} ORDER BY ${order} LIMIT ?`, [
      ...where.params,
      f.limit,
    ]);
  }

  async counts(f: Pick<AlertFilter, 'model' | 'assignee' | 'kind'>): Promise<AlertCount[]> {
    const where = alertFilter(f);
    return this.db.rows<AlertCount>(
      `SELECT status, severity, count(*) AS n FROM alerts ${where.text} GROUP BY status, severity`,
      where.params,
    );
  }

  async unclosed(): Promise<AlertRow[]> {
    return this.db.rows<AlertRow>(`SELECT ${ALERT} FROM alerts WHERE status <> 'closed' ORDER BY id`);
  }

  async dueSnoozed(now: number): Promise<AlertRow[]> {
    return this.db.rows<AlertRow>(
      `SELECT ${ALERT} FROM alerts WHERE status = 'snoozed' AND snoozed_until <= ? ORDER BY id`,
      [now],
    );
  }

  async insertRetrain(row: NewRetrain): Promise<RetrainRow> {
    const ins = insertInto(retrainRequests, row);
    const inserted = await this.db.one<RetrainRow>(`${ins.text} RETURNING ${RETRAIN}`, ins.params);
    if (!inserted) throw new Error('INSERT … RETURNING gave no row');
    return inserted;
  }

  async getRetrain(id: number): Promise<RetrainRow | undefined> {
    return this.db.one<RetrainRow>(`SELECT ${RETRAIN} FROM retrain_requests WHERE id = ?`, [id]);
  }

  async updateRetrain(
    id: number,
    expectVersion: number,
    change: Partial<Pick<RetrainRow, 'status' | 'producedVersion'>>,
    now: number,
  ): Promise<RetrainRow | undefined> {
    const set = setList(retrainRequests, { ...change, version: expectVersion + 1, updatedAt: now });
    return this.db.one<RetrainRow>(
      `UPDATE retrain_requests SET ${set.text} WHERE id = ? AND version = ? RETURNING ${RETRAIN}`,
      [...set.params, id, expectVersion],
    );
  }

  async listRetrain(f: {
    model?: string | undefined;
    status?: RetrainStatus | undefined;
    limit: number;
  }): Promise<RetrainRow[]> {
    const where = whereAll([
      f.model ? ['model = ?', f.model] : false,
      f.status ? ['status = ?', f.status] : false,
    ]);
    return this.db.rows<RetrainRow>(
      `SELECT ${RETRAIN} FROM retrain_requests ${where.text} ORDER BY id DESC LIMIT ?`,
      [...where.params, f.limit],
    );
  }

  async retrainForAlert(alertId: number): Promise<RetrainRow[]> {
    // alert_ids is a JSON array of numbers: one of them equals the alert's id.
    const contains =
      this.db.dialect === 'postgres'
        ? 'alert_ids::jsonb @> jsonb_build_array(CAST(? AS int8))'
        : 'EXISTS (SELECT 1 FROM json_each(alert_ids) WHERE value = ?)';
    return this.db.rows<RetrainRow>(`SELECT ${RETRAIN} FROM retrain_requests WHERE ${contains} ORDER BY id`, [
      alertId,
    ]);
  }
}

// Filters apply when given (an empty string is no filter); an empty status list matches nothing.
function alertFilter(f: Partial<AlertFilter>): { text: string; params: Param[] } {
  return whereAll([
    f.status !== undefined
      ? [`status IN (${f.status.map(() => '?').join(', ') || 'NULL'})`, ...f.status]
      : false,
    f.model ? ['model = ?', f.model] : false,
    f.severity ? ['severity = ?', f.severity] : false,
    f.assignee ? ['assignee = ?', f.assignee] : false,
    f.kind ? ['kind = ?', f.kind] : false,
  ]);
}
