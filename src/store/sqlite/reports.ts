import type { NewReportRun, ReportRunRow, ReportRunStatus, ReportRunStore } from '../types.js';
import type { Connection } from './client.js';

const COLUMNS = `id, schedule, slot, period_from AS periodFrom, period_to AS periodTo, status, attempts,
  next_attempt_at AS nextAttemptAt, message_id AS messageId, error, subject, html, text, images,
  created_at AS createdAt, sent_at AS sentAt, alert_id AS alertId`;

export class SqliteReportRuns implements ReportRunStore {
  constructor(private readonly c: Connection) {}

  async insert(r: NewReportRun): Promise<ReportRunRow | undefined> {
    return this.c
      .prepared(
        `INSERT INTO report_runs (schedule, slot, period_from, period_to, status, attempts, next_attempt_at, subject,
           html, text, images, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (schedule, slot) WHERE alert_id IS NULL DO NOTHING RETURNING ${COLUMNS}`,
      )
      .get(
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
      ) as ReportRunRow | undefined;
  }

  async insertForAlert(r: {
    alertId: number;
    schedule: string;
    slot: number;
    periodFrom: number;
    periodTo: number;
    createdAt: number;
  }): Promise<ReportRunRow | undefined> {
    return this.c
      .prepared(
        `INSERT INTO report_runs (schedule, slot, period_from, period_to, status, attempts, next_attempt_at, subject,
           html, text, images, created_at, alert_id) VALUES (?, ?, ?, ?, 'pending', 0, ?, '', '', '', '[]', ?, ?)
         ON CONFLICT (alert_id) DO NOTHING RETURNING ${COLUMNS}`,
      )
      .get(r.schedule, r.slot, r.periodFrom, r.periodTo, r.createdAt, r.createdAt, r.alertId) as
      | ReportRunRow
      | undefined;
  }

  async setMessage(id: number, m: Pick<ReportRunRow, 'subject' | 'html' | 'text' | 'images'>): Promise<void> {
    this.c
      .prepared('UPDATE report_runs SET subject = ?, html = ?, text = ?, images = ? WHERE id = ?')
      .run(m.subject, m.html, m.text, m.images, id);
  }

  async find(schedule: string, slot: number): Promise<ReportRunRow | undefined> {
    return this.c
      .prepared(`SELECT ${COLUMNS} FROM report_runs WHERE schedule = ? AND slot = ? AND alert_id IS NULL`)
      .get(schedule, slot) as ReportRunRow | undefined;
  }

  async forAlert(alertId: number): Promise<ReportRunRow | undefined> {
    return this.c.prepared(`SELECT ${COLUMNS} FROM report_runs WHERE alert_id = ?`).get(alertId) as
      | ReportRunRow
      | undefined;
  }

  async get(id: number): Promise<ReportRunRow | undefined> {
    return this.c.prepared(`SELECT ${COLUMNS} FROM report_runs WHERE id = ?`).get(id) as
      | ReportRunRow
      | undefined;
  }

  async due(now: number, limit: number): Promise<ReportRunRow[]> {
    return this.c
      .prepared(
        `SELECT ${COLUMNS} FROM report_runs WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?`,
      )
      .all(now, limit) as ReportRunRow[];
  }

  async claim(id: number, expectAttempts: number, nextAttemptAt: number): Promise<boolean> {
    const info = this.c
      .prepared(
        `UPDATE report_runs SET attempts = attempts + 1, next_attempt_at = ?
         WHERE id = ? AND status = 'pending' AND attempts = ?`,
      )
      .run(nextAttemptAt, id, expectAttempts);
    return info.changes === 1;
  }

  async markSent(id: number, messageId: string, now: number): Promise<void> {
    this.c
      .prepared(
        `UPDATE report_runs SET status = 'sent', message_id = ?, sent_at = ?, error = NULL WHERE id = ?`,
      )
      .run(messageId, now, id);
  }

  async markFailed(
    id: number,
    f: { status: 'pending' | 'failed' | 'skipped'; error: string; nextAttemptAt: number },
  ): Promise<void> {
    this.c
      .prepared('UPDATE report_runs SET status = ?, error = ?, next_attempt_at = ? WHERE id = ?')
      .run(f.status, f.error, f.nextAttemptAt, id);
  }

  async list(q: {
    schedule?: string | undefined;
    status?: ReportRunStatus | undefined;
    limit: number;
  }): Promise<ReportRunRow[]> {
    return this.c
      .prepared(
        `SELECT ${COLUMNS} FROM report_runs WHERE (@schedule IS NULL OR schedule = @schedule)
           AND (@status IS NULL OR status = @status) ORDER BY slot DESC, id DESC LIMIT @limit`,
      )
      .all({ schedule: q.schedule ?? null, status: q.status ?? null, limit: q.limit }) as ReportRunRow[];
  }
}
