import { existsSync, writeFileSync } from 'node:fs';
import { type Config, databaseTarget, smtpLogin } from '../config/index.js';
import { ApiError } from '../errors.js';
import { createLogger } from '../logger.js';
import { inlineImages } from '../reports/render.js';
import { renderFor, scheduleNamed, sendReportNow } from '../reports/service.js';
import { openStore } from '../store/index.js';
import { CliError } from './client.js';

// `driftwatch report`: renders a schedule's report for the period ending now, straight from the database
// (like `driftwatch score`); --out writes the HTML, --send mails it and records the run like the job does.

export interface ReportCliOptions {
  schedule: string;
  out?: string;
  send?: boolean;
}

export async function runReport(config: Config, o: ReportCliOptions): Promise<string> {
  // Only sending needs the SMTP password: a pass_env that is not set fails here, as a config error naming
  // the field, and --out or printing the HTML work without it.
  if (o.send) smtpLogin(config);
  const target = databaseTarget(config.database);
  if (target.dialect === 'sqlite' && target.path !== ':memory:' && !existsSync(target.path))
    throw new CliError(`no database at ${target.path} (--db, DRIFTWATCH_DB or database.url in the config)`);
  const store = await openStore(config.database, { applicationName: 'driftwatch report' });
  const log = createLogger(
    { log: { level: config.log.level === 'info' ? 'warn' : config.log.level } },
    process.stderr,
  );
  const deps = { config, store, log, clock: Date.now };
  try {
    const schedule = scheduleNamed(config, o.schedule);
    if (o.send) {
      const run = await sendReportNow(deps, schedule.name);
      if (run.status !== 'sent')
        throw new CliError(
          `report ${run.id} not sent (${run.error ?? run.status}); the reports job retries it at ${new Date(run.nextAttemptAt).toISOString()}`,
        );
      return `sent "${run.subject}" to ${schedule.to.join(', ')} (message id ${run.messageId})`;
    }
    const rendered = await renderFor(deps, schedule, Date.now());
    // A file has no mail parts for cid: links to resolve: its charts are inlined as data: URIs.
    const html = inlineImages(rendered.html, rendered.images);
    if (o.out) {
      writeFileSync(o.out, html);
      return `${rendered.subject}\nwritten to ${o.out}`;
    }
    return html;
  } catch (err) {
    if (err instanceof ApiError) throw new CliError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}
