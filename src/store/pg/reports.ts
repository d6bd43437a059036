import type { NewReportRun, ReportRunRow, ReportRunStatus, ReportRunStore } from '../types.js';
import type { PgConn } from './client.js';

const COLUMNS = `id, schedule, slot, period_from AS "periodFrom", period_to AS "periodTo", status, attempts,
  next_attempt_at AS "nextAttemptAt", message_id AS "messageId", error, subject, html, text, images,
  created_at AS "createdAt", sent_at AS "sentAt", alert_id AS "alertId"`;

export class PgReportRuns implements ReportRunStore {
  constructor(private readonly c: PgConn) {}

  async insert(r: NewReportRun): Promise<ReportRunRow | undefined> {
    const rows = await this.c.rows<ReportRunRow>(
      `INSERT INTO report_runs (schedule, slot, period_from, period_to, status, attempts, next_attempt_at, subject,
         html, text, images, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7, $8, $9, $5)
       ON CONFLICT (schedule, slot) WHERE alert_id IS NULL DO NOTHING RETURNING ${COLUMNS}`,
      [r.schedule, r.slot, r.periodFrom, r.periodTo, r.createdAt, r.subject, r.html, r.text, r.images],
    );
    return rows[0];
  }

  async insertForAlert(r: {
    alertId: number;
    schedule: string;
    slot: number;
    periodFrom: number;
    periodTo: number;
    createdAt: number;
  }): Promise<ReportRunRow | undefined> {
    const rows = await this.c.rows<ReportRunRow>(
      `INSERT INTO report_runs (schedule, slot, period_from, period_to, status, attempts, next_attempt_at, subject,
         html, text, images, created_at, alert_id) VALUES ($1, $2, $3, $4, 'pending', 0, $5, '', '', '', '[]', $5, $6)
       ON CONFLICT (alert_id) DO NOTHING RETURNING ${COLUMNS}`,
      [r.schedule, r.slot, r.periodFrom, r.periodTo, r.createdAt, r.alertId],
    );
    return rows[0];
  }

  async setMessage(id: number, m: Pick<ReportRunRow, 'subject' | 'html' | 'text' | 'images'>): Promise<void> {
    await this.c.run('UPDATE report_runs SET subject = $1, html = $2, text = $3, images = $4 WHERE id = $5', [
      m.subject,
      m.html,
      m.text,
      m.images,
      id,
    ]);
  }

  async find(schedule: string, slot: number): Promise<ReportRunRow | undefined> {
    const rows = await this.c.rows<ReportRunRow>(
      `SELECT ${COLUMNS} FROM report_runs WHERE schedule = $1 AND slot = $2 AND alert_id IS NULL`,
      [schedule, slot],
    );
    return rows[0];
  }

  async forAlert(alertId: number): Promise<ReportRunRow | undefined> {
    const rows = await this.c.rows<ReportRunRow>(`SELECT ${COLUMNS} FROM report_runs WHERE alert_id = $1`, [
      alertId,
    ]);
    return rows[0];
  }

  async get(id: number): Promise<ReportRunRow | undefined> {
    const rows = await this.c.rows<ReportRunRow>(`SELECT ${COLUMNS} FROM report_runs WHERE id = $1`, [id]);
    return rows[0];
  }

  async due(now: number, limit: number): Promise<ReportRunRow[]> {
    return this.c.rows<ReportRunRow>(
      `SELECT ${COLUMNS} FROM report_runs WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2`,
      [now, limit],
    );
  }

  async claim(id: number, expectAttempts: number, nextAttemptAt: number): Promise<boolean> {
    return (
      (await this.c.run(
        `UPDATE report_runs SET attempts = attempts + 1, next_attempt_at = $1
         WHERE id = $2 AND status = 'pending' AND attempts = $3`,
        [nextAttemptAt, id, expectAttempts],
      )) === 1
    );
  }

  async markSent(id: number, messageId: string, now: number): Promise<void> {
    await this.c.run(
      `UPDATE report_runs SET status = 'sent', message_id = $1, sent_at = $2, error = NULL WHERE id = $3`,
      [messageId, now, id],
    );
  }

  async markFailed(
    id: number,
    f: { status: 'pending' | 'failed' | 'skipped'; error: string; nextAttemptAt: number },
  ): Promise<void> {
    await this.c.run('UPDATE report_runs SET status = $1, error = $2, next_attempt_at = $3 WHERE id = $4', [
      f.status,
      f.error,
      f.nextAttemptAt,
      id,
    ]);
  }

  async list(q: {
    schedule?: string | undefined;
    status?: ReportRunStatus | undefined;
    limit: number;
  }): Promise<ReportRunRow[]> {
    return this.c.rows<ReportRunRow>(
      `SELECT ${COLUMNS} FROM report_runs WHERE ($1::text IS NULL OR schedule = $1)
         AND ($2::text IS NULL OR status = $2) ORDER BY slot DESC, id DESC LIMIT $3`,
      [q.schedule ?? null, q.status ?? null, q.limit],
    );
  }
}
