import { runRebuild } from '../baselines/service.js';
import type { AppDeps } from '../context.js';
import { backfillFeatureResults } from '../drift/service.js';
import { runKserveJoinTick } from '../ingest/cloudevents.js';
import { realizedBackfillTick } from '../labels/backfill.js';
import { runDeliveryTick } from '../notifications/service.js';
import { emailProvider } from '../reports/email.js';
import { reportsEnabled, runReportsTick } from '../reports/service.js';
import { runRollupTick } from '../retention/rollup.js';
import { runRetentionTick } from '../retention/tick.js';
import { alertmanagerResendTick, runDriftTick } from './drift-tick.js';
import { JobRegistry, type RegistryOptions } from './registry.js';

export { JobRegistry } from './registry.js';

/** Resumes re-aggregations left unfinished (a crash or restart during an activation). */
export async function runRebuildTick(
  deps: Pick<AppDeps, 'store' | 'config' | 'clock'>,
): Promise<{ models: string[]; pages: number }> {
  const pending = await deps.store.read((tx) => tx.baselines.activations());
  let pages = 0;
  for (const a of pending) pages += await runRebuild(deps, a.model);
  return { models: pending.map((a) => a.model), pages };
}

/** Every job of driftwatch, in one registry. */
export function createJobs(deps: AppDeps, options: RegistryOptions = {}): JobRegistry {
  const registry = new JobRegistry(deps, options);
  registry.register({
    name: 'drift',
    schedule: deps.config.drift.schedule,
    tick: (now) => runDriftTick(deps, now),
    idle: (r) => r.evaluated === 0 && r.errors.length === 0,
    errors: (r) => r.errors,
  });
  registry.register({
    name: 'rebuild',
    schedule: '*/10 * * * * *',
    tick: () => runRebuildTick(deps),
    idle: (r) => r.models.length === 0,
    onLeadership: true,
  });
  // Results stored before drift_feature_results existed get their summary and feature rows, in batches
  // (readers parse those results whole until then); idle once none is left.
  registry.register({
    name: 'drift-backfill',
    schedule: '*/30 * * * * *',
    tick: () => backfillFeatureResults(deps),
    idle: (n) => n === 0,
    onLeadership: true,
  });
  // Labels joined before realized_performance existed get their buckets' realized counts, a page of buckets
  // per tick; idle once no bucket's counts grow.
  registry.register({
    name: 'realized-backfill',
    schedule: '*/30 * * * * *',
    tick: realizedBackfillTick(deps),
    idle: (r) => r.filled === 0,
    onLeadership: true,
  });
  registry.register({
    name: 'retention',
    schedule: deps.config.retention.pruneSchedule,
    tick: (now) => runRetentionTick(deps, now),
    idle: (r) => r.records + r.rejections === 0,
  });
  // Drift buckets older than retention.hourlyDays merged into day rows, one day per transaction; closed
  // buckets' count vectors deflated.
  registry.register({
    name: 'rollup',
    schedule: deps.config.retention.rollupSchedule,
    tick: (now) => runRollupTick(deps, now),
    idle: (r) => r.days === 0 && r.compacted === 0,
  });
  // Email reports and critical-alert mails are deliveries too, sent through the email provider.
  const reports = reportsEnabled(deps.config);
  const email = reports ? emailProvider(deps) : undefined;
  // Every 5 s: the first retry of a failed delivery is due 5 s after it failed.
  registry.register({
    name: 'deliveries',
    schedule: '*/5 * * * * *',
    tick: (now) => runDeliveryTick(deps, now, { asLeader: true, email }),
    // A new leader resumes what the previous one left at once, not at the next 5 s mark.
    onLeadership: true,
    idle: (r) => r.sent + r.failed + r.retried === 0,
  });
  registry.register({
    name: 'alertmanager-resend',
    schedule: '* * * * *',
    tick: alertmanagerResendTick(deps),
    idle: (n) => n === 0,
  });
  // KServe halves whose other half never came within ingest.cloudEventsJoinTimeout.
  registry.register({
    name: 'kserve-join',
    schedule: '*/10 * * * * *',
    tick: (now) => runKserveJoinTick(deps, now),
    idle: (r) => r.requests + r.responses === 0,
  });
  // Email reports: each schedule's latest due slot, once (unique per slot), rendered and queued in the
  // outbox; the deliveries job sends it.
  if (reports)
    registry.register({
      name: 'reports',
      schedule: '* * * * *',
      tick: (now) => runReportsTick(deps, now),
      idle: (r) => r.created.length === 0 && r.errors.length === 0,
      errors: (r) => r.errors,
      onLeadership: true,
    });
  return registry;
}
