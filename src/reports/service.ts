import { type Config, ConfigError, type ReportScheduleConfig, smtpLogin } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import { sendClaimedNow } from '../notifications/service.js';
import { CLAIM_TTL_MS, type ReportRunRow } from '../store/index.js';
import { reportCharts } from './charts.js';
import { gatherReport } from './content.js';
import { emailProvider, enqueueMail, errorText, imagesJson } from './email.js';
import { type ChartRenderer, type RenderedReport, renderReport } from './render.js';
import { latestSlot } from './schedule.js';

export { reportBackoffMs } from './email.js';

// Scheduled email reports. The `reports` job (leader only, every minute) creates at most one run per
// schedule per tick: the latest slot at or before now, if that slot has no run yet — so after downtime a
// schedule gets one catch-up for its latest missed slot, not one per slot, and the unique (schedule, slot)
// keeps a second process or a new leader from creating it again. Catch-up is for slots missed while the
// service was down, not for slots before the schedule existed: a schedule with no run at all (a new
// install, a schedule just added) has its latest past slot recorded as not sent (status skipped, 0
// attempts, error FIRST_START), so its first report is its next slot; that row is also what later ticks
// find, and its unique (schedule, slot) makes the rule hold in a fleet. The message is rendered when the run is
// created and kept, so a retry sends the same mail. The run is queued in the outbox (channel email, see
// email.ts) in the same transaction; the delivery loop sends it, retries and records the outcome on the run.

type Deps = Pick<AppDeps, 'config' | 'store' | 'log' | 'clock'>;

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
    await tx.reportRuns.markSkipped(row.id, FIRST_START, now);
    return 'recorded';
  });
}

export interface ReportsTickResult {
  created: string[];
  /** Schedules seen for the first time, with the past slot recorded as not sent (name@slot). */
  started: string[];
  errors: string[];
}

/**
 * The `reports` job: creates each schedule's latest due run if missing, rendered, with its mail queued in the
 * outbox; the delivery loop sends it (and the critical-alert mails, queued with their alert, see critical.ts).
 */
export async function runReportsTick(
  deps: Deps,
  now: number,
  options: ReportOptions = {},
): Promise<ReportsTickResult> {
  const result: ReportsTickResult = { created: [], started: [], errors: [] };
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
      const row = await deps.store.tx(async (tx) => {
        const run = await tx.reportRuns.insert({
          schedule: schedule.name,
          slot,
          periodFrom: slot - schedule.period,
          periodTo: slot,
          subject: r.subject,
          html: r.html,
          text: r.text,
          images: imagesJson(r),
          createdAt: now,
        });
        if (run) await enqueueMail(tx, run, now);
        return run;
      });
      if (row) result.created.push(`${schedule.name}@${new Date(slot).toISOString()}`);
    } catch (err) {
      result.errors.push(`${schedule.name}: ${errorText(err)}`);
    }
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
  // Queued and claimed in one transaction, so the delivery loop leaves it to this request; should this
  // process die mid-send, the claim runs out within CLAIM_TTL_MS and the loop sends it.
  const queued = await deps.store.tx(async (tx) => {
    const run = await tx.reportRuns.insert({
      schedule: name,
      slot: now,
      periodFrom: now - schedule.period,
      periodTo: now,
      subject: r.subject,
      html: r.html,
      text: r.text,
      images: imagesJson(r),
      createdAt: now,
    });
    if (!run) return undefined;
    const delivery = await enqueueMail(tx, run, now);
    await tx.deliveries.claim(delivery, 0, now + CLAIM_TTL_MS);
    return { run, delivery };
  });
  if (!queued) throw new ApiError('conflict', `a report of ${name} for this instant exists already; retry`);
  await sendClaimedNow(deps, queued.delivery, emailProvider(deps, options), now);
  return (await deps.store.read((tx) => tx.reportRuns.get(queued.run.id))) ?? queued.run;
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
