import nodemailer from 'nodemailer';
import { type Config, ConfigError, smtpLogin } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { EMAIL_CHANNEL, type Provider } from '../notifications/providers.js';
import type { ReportRunRow, Tx } from '../store/index.js';
import { reportCharts } from './charts.js';
import { CRITICAL_SCHEDULE, renderCritical } from './critical.js';
import type { ChartRenderer, RenderedReport } from './render.js';

// Email behind the one outbox: a report run (scheduled report or critical-alert mail) is queued as a
// delivery of channel "email" in the transaction that creates it, and the delivery loop
// (notifications/service.ts) claims, sends through this provider, retries and records the outcome, which the
// store writes to the run as well.

type Deps = Pick<AppDeps, 'config' | 'store' | 'log' | 'clock'>;

const BACKOFF_BASE_MS = 60_000;
const BACKOFF_MAX_MS = 3_600_000;
const ERROR_CHARS = 500;

/** Delay before the next attempt after `attempts` failed ones: 1, 2, 4, … minutes, capped at an hour. */
export function reportBackoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/** In the caller's transaction: queues the mail of a report run (once: deliveries.report_run_id is unique). */
export async function enqueueMail(tx: Tx, run: Pick<ReportRunRow, 'id' | 'schedule'>, now: number) {
  return tx.deliveries.insert({
    channel: EMAIL_CHANNEL,
    event: `report.${run.schedule}`,
    payload: JSON.stringify({ report_run: run.id }),
    now,
    reportRunId: run.id,
  });
}

interface StoredImage {
  cid: string;
  filename: string;
  alt: string;
  base64: string;
}

/** The rendered charts as kept with the run, so a retry or re-send attaches the same images. */
export function imagesJson(r: RenderedReport): string {
  return JSON.stringify(
    r.images.map(
      (i): StoredImage => ({
        cid: i.cid,
        filename: i.filename,
        alt: i.alt,
        base64: i.content.toString('base64'),
      }),
    ),
  );
}

interface Mailer {
  send(run: ReportRunRow, to: string[]): Promise<string>;
  close(): void;
}

function smtpMailer(config: Config): Mailer {
  const smtp = config.reports.smtp;
  if (!smtp) throw new Error('reports.smtp is not configured');
  const auth = smtpLogin(config);
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(auth ? { auth } : {}),
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
  });
  return {
    async send(run, to) {
      const info = await transport.sendMail({
        from: smtp.from,
        to,
        subject: run.subject,
        text: run.text,
        html: run.html,
        attachments: (JSON.parse(run.images) as StoredImage[]).map((i) => ({
          cid: i.cid,
          filename: i.filename,
          content: Buffer.from(i.base64, 'base64'),
          contentType: 'image/png',
          contentDisposition: 'inline' as const,
        })),
        headers: {
          'X-Driftwatch-Report':
            run.alertId === null
              ? `${run.schedule}/${new Date(run.slot).toISOString()}`
              : `${CRITICAL_SCHEDULE}/alert-${run.alertId}`,
        },
      });
      return String(info.messageId ?? '');
    },
    close: () => transport.close(),
  };
}

export function errorText(err: unknown): string {
  if (err instanceof ConfigError) return err.problems.join('; ').slice(0, ERROR_CHARS);
  const e = err as { message?: string; code?: string; responseCode?: number };
  const text = [e.code, e.responseCode, e.message ?? String(err)].filter((v) => v !== undefined).join(' ');
  return text.slice(0, ERROR_CHARS);
}

/** Recipients of a run: its schedule's, or reports.critical's for a critical-alert mail; null when gone. */
function recipientsOf(config: Config, run: ReportRunRow): string[] | null {
  if (run.alertId !== null) return config.reports.critical?.to ?? null;
  return config.reports.schedules.find((s) => s.name === run.schedule)?.to ?? null;
}

/**
 * A run queued without its message (a critical-alert mail) rendered and stored before its first attempt;
 * throws when rendering fails (a failed attempt like any other).
 */
async function withMessage(deps: Deps, run: ReportRunRow, charts: ChartRenderer): Promise<ReportRunRow> {
  if (run.alertId === null || run.subject !== '') return run;
  const r = await renderCritical(deps, run, charts);
  const message = { subject: r.subject, html: r.html, text: r.text, images: imagesJson(r) };
  await deps.store.tx((tx) => tx.reportRuns.setMessage(run.id, message));
  return { ...run, ...message };
}

/**
 * The email provider: mails the delivery's report run (rendering a critical-alert mail first) through the
 * SMTP relay of reports.smtp, to the run's schedule's recipients. Retries 1, 2, 4, … minutes apart up to
 * reports.maxAttempts: a relay outage lasts longer than a webhook's hiccup.
 */
export function emailProvider(deps: Deps, options: { charts?: ChartRenderer } = {}): Provider {
  return {
    type: 'email',
    maxAttempts: deps.config.reports.maxAttempts,
    backoffMs: reportBackoffMs,
    async send(row) {
      const runId = row.reportRunId;
      const run = runId === null ? undefined : await deps.store.read((tx) => tx.reportRuns.get(runId));
      if (!run) return { ok: false, error: `report run ${runId} does not exist`, permanent: true };
      const to = recipientsOf(deps.config, run);
      if (!to) {
        const error =
          run.alertId === null
            ? `schedule ${run.schedule} is no longer configured`
            : 'reports.critical is no longer configured';
        return { ok: false, error, permanent: true };
      }
      try {
        const message = await withMessage(deps, run, options.charts ?? reportCharts);
        const mailer = smtpMailer(deps.config);
        try {
          const messageId = await mailer.send(message, to);
          deps.log.info(
            { schedule: run.schedule, run: run.id, message_id: messageId, attempts: row.attempts },
            'report sent',
          );
          return { ok: true, receipt: messageId };
        } finally {
          mailer.close();
        }
      } catch (err) {
        return { ok: false, error: errorText(err) };
      }
    },
  };
}
