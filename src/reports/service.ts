import nodemailer from 'nodemailer';
import { type Config, ConfigError, type ReportScheduleConfig, smtpLogin } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import type { ReportRunRow } from '../store/index.js';
import { reportCharts } from './charts.js';
import { gatherReport } from './content.js';
import { CRITICAL_SCHEDULE, renderCritical } from './critical.js';
import { type ChartRenderer, type RenderedReport, renderReport } from './render.js';
import { latestSlot } from './schedule.js';

// Scheduled email reports. The `reports` job (leader only, every minute) creates at most one run per
// schedule per tick: the latest slot at or before now, if that slot has no run yet — so after downtime a
// schedule gets one catch-up for its latest missed slot, not one per slot, and the unique (schedule, slot)
// keeps a second process or a new leader from creating it again. Catch-up is for slots missed while the
// service was down, not for slots before the schedule existed: a schedule with no run at all (a new
// install, a schedule just added) has its latest past slot recorded as not sent (status failed, 0
// attempts, error FIRST_START), so its first report is its next slot; that row is also what later ticks
// find, and its unique (schedule, slot) makes the rule hold in a fleet. The message is rendered when the run is
// created and kept, so a retry sends the same mail. Sending is claimed per attempt (compare-and-set on
// attempts), failures are retried 1, 2, 4, … minutes apart up to reports.maxAttempts, then marked failed.

type Deps = Pick<AppDeps, 'config' | 'store' | 'log' | 'clock'>;

const BACKOFF_BASE_MS = 60_000;
const BACKOFF_MAX_MS = 3_600_000;
const SEND_BATCH = 20;
const ERROR_CHARS = 500;

/** Delay before the next attempt after `attempts` failed ones: 1, 2, 4, … minutes, capped at an hour. */
export function reportBackoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

interface StoredImage {
  cid: string;
  filename: string;
  alt: string;
  base64: string;
}

/** The rendered charts as kept with the run, so a retry or re-send attaches the same images. */
function imagesJson(r: RenderedReport): string {
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

export interface ReportOptions {
  /** Inline chart images; the charts of src/reports/charts.ts by default. */
  charts?: ChartRenderer;
}

export function scheduleNamed(config: Config, name: string): ReportScheduleConfig {
  const s = config.reports.schedules.find((x) => x.name === name);
  if (!s)
    throw new ApiError('not_found', `no report schedule named ${name} (reports.schedules in the config)`);
  return s;
}

/** The report of `schedule` for the period ending at `slot`, rendered. */
export async function renderFor(
  deps: Pick<AppDeps, 'config' | 'store'>,
  schedule: ReportScheduleConfig,
  slot: number,
  options: ReportOptions = {},
): Promise<RenderedReport> {
  return renderReport(await gatherReport(deps, schedule, slot), options.charts ?? reportCharts);
}

/**
 * Whether the reports job has anything to do: schedules, or the critical-alert mail. Called when the service
 * wires its jobs, so it is also where serve refuses to start with an SMTP password that could not be read
 * (pass_env unset, pass_file unreadable): a ConfigError naming the field, as at load, not a failed send
 * hours later. Commands that only render (report --out, the preview) never need the password.
 */
export function reportsEnabled(config: Config): boolean {
  smtpLogin(config);
  return config.reports.schedules.length > 0 || config.reports.critical !== undefined;
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

function errorText(err: unknown): string {
  if (err instanceof ConfigError) return err.problems.join('; ').slice(0, ERROR_CHARS);
  const e = err as { message?: string; code?: string; responseCode?: number };
  const text = [e.code, e.responseCode, e.message ?? String(err)].filter((v) => v !== undefined).join(' ');
  return text.slice(0, ERROR_CHARS);
}

export type AttemptOutcome = 'sent' | 'retry' | 'failed' | 'skipped';

/** Recipients of a run: its schedule's, or reports.critical's for a critical-alert mail; null when gone. */
function recipientsOf(config: Config, run: ReportRunRow): string[] | null {
  if (run.alertId !== null) return config.reports.critical?.to ?? null;
  return config.reports.schedules.find((s) => s.name === run.schedule)?.to ?? null;
}

/**
 * A run queued without its message (a critical-alert mail) rendered and stored before its first attempt;
 * throws when rendering fails (a failed attempt like any other).
 */
async function withMessage(deps: Deps, run: ReportRunRow, options: ReportOptions): Promise<ReportRunRow> {
  if (run.alertId === null || run.subject !== '') return run;
  const r = await renderCritical(deps, run, options.charts ?? reportCharts);
  const message = { subject: r.subject, html: r.html, text: r.text, images: imagesJson(r) };
  await deps.store.tx((tx) => tx.reportRuns.setMessage(run.id, message));
  return { ...run, ...message };
}

/** One attempt at a due run; never throws (an SMTP or rendering failure is recorded on the run). */
async function attempt(
  deps: Deps,
  mailer: Mailer,
  run: ReportRunRow,
  now: number,
  options: ReportOptions = {},
): Promise<AttemptOutcome> {
  const { config } = deps;
  const attempts = run.attempts + 1;
  const to = recipientsOf(config, run);
  const claimed = await deps.store.tx((tx) =>
    tx.reportRuns.claim(run.id, run.attempts, now + reportBackoffMs(attempts)),
  );
  if (!claimed) return 'skipped';
  if (!to) {
    await deps.store.tx((tx) =>
      tx.reportRuns.markFailed(run.id, {
        status: 'failed',
        error:
          run.alertId === null
            ? `schedule ${run.schedule} is no longer configured`
            : 'reports.critical is no longer configured',
        nextAttemptAt: now,
      }),
    );
    return 'failed';
  }
  try {
    const messageId = await mailer.send(await withMessage(deps, run, options), to);
    await deps.store.tx((tx) => tx.reportRuns.markSent(run.id, messageId, deps.clock()));
    deps.log.info({ schedule: run.schedule, run: run.id, message_id: messageId, attempts }, 'report sent');
    return 'sent';
  } catch (err) {
    const last = attempts >= config.reports.maxAttempts;
    const error = errorText(err);
    await deps.store.tx((tx) =>
      tx.reportRuns.markFailed(run.id, {
        status: last ? 'failed' : 'pending',
        error,
        nextAttemptAt: last ? now : now + reportBackoffMs(attempts),
      }),
    );
    deps.log.warn(
      { schedule: run.schedule, run: run.id, attempts, error, final: last },
      last ? 'report not sent: giving up' : 'report not sent: will retry',
    );
    return last ? 'failed' : 'retry';
  }
}

/** The error of the run that records a schedule's first start (the slot before it, never sent). */
export const FIRST_START =
  'not sent: the schedule was first seen after this slot; its reports start with the next slot';

/**
 * When the schedule has no run yet, records `slot` (its latest past one) as not sent: 'recorded', or 'raced'
 * when another process recorded it at the same time. null when the schedule has runs, so a missing slot is
 * one missed while the service was down.
 */
async function firstStart(
  deps: Deps,
  schedule: ReportScheduleConfig,
  slot: number,
  now: number,
): Promise<'recorded' | 'raced' | null> {
  return deps.store.tx(async (tx) => {
    if ((await tx.reportRuns.list({ schedule: schedule.name, limit: 1 })).length > 0) return null;
    const row = await tx.reportRuns.insert({
      schedule: schedule.name,
      slot,
      periodFrom: slot - schedule.period,
      periodTo: slot,
      subject: '',
      html: '',
      text: '',
      images: '[]',
      createdAt: now,
    });
    // undefined: another process recorded the same slot first (unique), which starts the schedule as well.
    if (!row) return 'raced';
    await tx.reportRuns.markFailed(row.id, { status: 'skipped', error: FIRST_START, nextAttemptAt: now });
    return 'recorded';
  });
}

export interface ReportsTickResult {
  created: string[];
  /** Schedules seen for the first time, with the past slot recorded as not sent (name@slot). */
  started: string[];
  sent: number;
  retried: number;
  failed: number;
  errors: string[];
}

/**
 * The `reports` job: creates each schedule's latest due run if missing, then sends what is due — critical-alert
 * mails (queued with the alert, see critical.ts) included.
 */
export async function runReportsTick(
  deps: Deps,
  now: number,
  options: ReportOptions = {},
): Promise<ReportsTickResult> {
  const result: ReportsTickResult = { created: [], started: [], sent: 0, retried: 0, failed: 0, errors: [] };
  for (const schedule of deps.config.reports.schedules) {
    try {
      const slot = latestSlot(schedule, now);
      if (slot === null) continue;
      if (await deps.store.read((tx) => tx.reportRuns.find(schedule.name, slot))) continue;
      const start = await firstStart(deps, schedule, slot, now);
      if (start === 'raced') continue;
      if (start === 'recorded') {
        result.started.push(`${schedule.name}@${new Date(slot).toISOString()}`);
        deps.log.info(
          { schedule: schedule.name, slot: new Date(slot).toISOString() },
          'report schedule seen for the first time: its reports start with the next slot',
        );
        continue;
      }
      const r = await renderFor(deps, schedule, slot, options);
      const row = await deps.store.tx((tx) =>
        tx.reportRuns.insert({
          schedule: schedule.name,
          slot,
          periodFrom: slot - schedule.period,
          periodTo: slot,
          subject: r.subject,
          html: r.html,
          text: r.text,
          images: imagesJson(r),
          createdAt: now,
        }),
      );
      if (row) result.created.push(`${schedule.name}@${new Date(slot).toISOString()}`);
    } catch (err) {
      result.errors.push(`${schedule.name}: ${errorText(err)}`);
    }
  }
  const due = await deps.store.read((tx) => tx.reportRuns.due(now, SEND_BATCH));
  if (due.length === 0) return result;
  let mailer: Mailer;
  try {
    mailer = smtpMailer(deps.config);
  } catch (err) {
    result.errors.push(errorText(err));
    return result;
  }
  try {
    for (const run of due) {
      const outcome = await attempt(deps, mailer, run, now, options);
      if (outcome === 'sent') result.sent++;
      else if (outcome === 'retry') result.retried++;
      else if (outcome === 'failed') result.failed++;
    }
  } finally {
    mailer.close();
  }
  return result;
}

/**
 * Renders and sends a schedule's report now, for the period ending now (POST /v1/reports/:name/send, the
 * CLI's --send). The run is stored like a scheduled one: a failed first attempt is retried by the job.
 */
export async function sendReportNow(
  deps: Deps,
  name: string,
  options: ReportOptions = {},
): Promise<ReportRunRow> {
  const schedule = scheduleNamed(deps.config, name);
  if (!deps.config.reports.smtp) throw new ApiError('conflict', 'reports.smtp is not configured');
  try {
    smtpLogin(deps.config);
  } catch (err) {
    // Before a run is stored: without its password the job could never send it either.
    if (err instanceof ConfigError) throw new ApiError('conflict', err.problems.join('; '));
    throw err;
  }
  const now = deps.clock();
  const r = await renderFor(deps, schedule, now, options);
  const row = await deps.store.tx((tx) =>
    tx.reportRuns.insert({
      schedule: name,
      slot: now,
      periodFrom: now - schedule.period,
      periodTo: now,
      subject: r.subject,
      html: r.html,
      text: r.text,
      images: imagesJson(r),
      createdAt: now,
    }),
  );
  if (!row) throw new ApiError('conflict', `a report of ${name} for this instant exists already; retry`);
  const mailer = smtpMailer(deps.config);
  try {
    await attempt(deps, mailer, row, now);
  } finally {
    mailer.close();
  }
  return (await deps.store.read((tx) => tx.reportRuns.get(row.id))) ?? row;
}

export interface ReportRunView {
  id: number;
  schedule: string;
  /** The critical alert the mail is about; null for scheduled reports. */
  alert_id: number | null;
  slot: string;
  period: { from: string; to: string };
  status: ReportRunRow['status'];
  attempts: number;
  next_attempt_at: string | null;
  message_id: string | null;
  error: string | null;
  subject: string;
  created_at: string;
  sent_at: string | null;
}

const iso = (t: number) => new Date(t).toISOString();

export function reportRunView(r: ReportRunRow): ReportRunView {
  return {
    id: r.id,
    schedule: r.schedule,
    alert_id: r.alertId,
    slot: iso(r.slot),
    period: { from: iso(r.periodFrom), to: iso(r.periodTo) },
    status: r.status,
    attempts: r.attempts,
    next_attempt_at: r.status === 'pending' ? iso(r.nextAttemptAt) : null,
    message_id: r.messageId,
    error: r.error,
    subject: r.subject,
    created_at: iso(r.createdAt),
    sent_at: r.sentAt === null ? null : iso(r.sentAt),
  };
}
