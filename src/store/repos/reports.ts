import { type Sql, selectList, whereAll } from '../sql.js';
import type { NewReportRun, ReportRunRow, ReportRunStatus, ReportRunStore } from '../types.js';
import { reportRuns } from './tables.js';

const COLUMNS = selectList(reportRuns);

export class ReportRuns implements ReportRunStore {
  constructor(private readonly db: Sql) {}

  async insert(r: NewReportRun): Promise<ReportRunRow | undefined> {
    return this.db.one(
      `INSERT INTO report_runs (schedule, slot, period_from, period_to, status, attempts, next_attempt_at, subject,
         html, text, images, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (schedule, slot) WHERE alert_id IS NULL DO NOTHING RETURNING ${COLUMNS}`,
      [
        r.schedule,
        r.slot,
        r.periodFrom,
        r.periodTo,
        r.createdAt,
        r.subject,
        r.html,
        r.text,
        r.images,
        r.createdAt,
      ],
    );
  }

  async insertForAlert(r: {
    alertId: number;
    schedule: string;
    slot: number;
    periodFrom: number;
    periodTo: number;
    createdAt: number;
  }): Promise<ReportRunRow | undefined> {
    return this.db.one(
      `INSERT INTO report_runs (schedule, slot, period_from, period_to, status, attempts, next_attempt_at, subject,
         html, text, images, created_at, alert_id) VALUES (?, ?, ?, ?, 'pending', 0, ?, '', '', '', '[]', ?, ?)
       ON CONFLICT (alert_id) DO NOTHING RETURNING ${COLUMNS}`,
      [r.schedule, r.slot, r.periodFrom, r.periodTo, r.createdAt, r.createdAt, r.alertId],
    );
  }

  async setMessage(id: number, m: Pick<ReportRunRow, 'subject' | 'html' | 'text' | 'images'>): Promise<void> {
    await this.db.run('UPDATE report_runs SET subject = ?, html = ?, text = ?, images = ? WHERE id = ?', [
      m.subject,
      m.html,
      m.text,
      m.images,
      id,
    ]);
  }

  async find(schedule: string, slot: number): Promise<ReportRunRow | undefined> {
    return this.db.one(
      `SELECT ${COLUMNS} FROM report_runs WHERE schedule = ? AND slot = ? AND alert_id IS NULL`,
      [schedule, slot],
    );
  }

  async forAlert(alertId: number): Promise<ReportRunRow | undefined> {
    return this.db.one(`SELECT ${COLUMNS} FROM report_runs WHERE alert_id = ?`, [alertId]);
  }

  async get(id: number): Promise<ReportRunRow | undefined> {
    return this.db.one(`SELECT ${COLUMNS} FROM report_runs WHERE id = ?`, [id]);
  }

  async markSkipped(id: number, error: string, now: number): Promise<void> {
    await this.db.run(
      `UPDATE report_runs SET status = 'skipped', error = ?, next_attempt_at = ? WHERE id = ?`,
      [error, now, id],
    );
  }

  async list(q: {
    schedule?: string | undefined;
    status?: ReportRunStatus | undefined;
    limit: number;
  }): Promise<ReportRunRow[]> {
    const where = whereAll([
      q.schedule != null ? ['schedule = ?', q.schedule] : false,
      q.status != null ? ['status = ?', q.status] : false,
    ]);
    return this.db.rows(
      `SELECT ${COLUMNS} FROM report_runs ${where.text} ORDER BY slot DESC, id DESC LIMIT ?`,
      [...where.params, q.limit],
    );
  }
}
