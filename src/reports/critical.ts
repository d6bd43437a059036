import type { Config } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { alertLink } from '../notifications/payloads.js';
import type { AlertRow, ReportRunRow, Tx } from '../store/index.js';
import { gatherReport } from './content.js';
import { enqueueMail } from './email.js';
import { type ChartRenderer, type RenderedReport, renderReport } from './render.js';

// The immediate mail on critical alerts (reports.critical). Queued like a notification: a run without a
// message is inserted in the transaction that makes the alert critical (opened critical, or escalated), so
// it commits or rolls back with the alert and is unique per alert — mailed once, across restarts and
// processes. Its delivery (channel email) is queued with it; the email provider renders it before its first
// attempt (never inside the drift transaction), and the delivery loop sends it like any other delivery.

/** The schedule name of critical-alert runs (reserved: no configured schedule may take it). */
export const CRITICAL_SCHEDULE = 'critical';

/** Whether reports.critical wants mail about this alert. */
export function wantsCriticalMail(config: Config, alert: Pick<AlertRow, 'model' | 'severity'>): boolean {
  const c = config.reports.critical;
  if (!c || alert.severity !== 'critical') return false;
  return c.models === undefined || c.models.includes(alert.model);
}

/**
 * In the caller's transaction: queues the mail about a critical alert when reports.critical takes it and
 * the alert has none yet. Cheap (one insert), so it can run inside the drift tick's transaction.
 */
export async function queueCriticalMail(
  tx: Tx,
  config: Config,
  alert: Pick<AlertRow, 'id' | 'model' | 'severity' | 'lastSeen'>,
  at: number,
): Promise<boolean> {
  if (!wantsCriticalMail(config, alert)) return false;
  const period = config.reports.critical?.period ?? 86_400_000;
  // The period ends with the window that fired (a rolling window ends with the bucket in progress).
  const end = Math.max(at, alert.lastSeen);
  const row = await tx.reportRuns.insertForAlert({
    alertId: alert.id,
    schedule: CRITICAL_SCHEDULE,
    slot: at,
    periodFrom: end - period,
    periodTo: end,
    createdAt: at,
  });
  if (row) await enqueueMail(tx, row, at);
  return row !== undefined;
}

/** The critical-alert mail of a run: the alert, then its model's report section over the run's period. */
export async function renderCritical(
  deps: Pick<AppDeps, 'config' | 'store'>,
  run: ReportRunRow,
  charts: ChartRenderer,
): Promise<RenderedReport> {
  const c = deps.config.reports.critical;
  if (!c) throw new Error('reports.critical is no longer configured');
  if (run.alertId === null) throw new Error(`report run ${run.id} is not about an alert`);
  const alertId = run.alertId;
  const found = await deps.store.read(async (tx) => {
    const alert = await tx.alerts.get(alertId);
    const escalated = alert ? (await tx.alerts.events(alertId)).some((e) => e.action === 'escalated') : false;
    return alert ? { alert, escalated } : undefined;
  });
  if (!found) throw new Error(`alert ${alertId} does not exist`);
  const { alert, escalated } = found;
  const content = await gatherReport(
    deps,
    {
      name: CRITICAL_SCHEDULE,
      cron: '* * * * *',
      timezone: c.timezone,
      to: c.to,
      period: run.periodTo - run.periodFrom,
      models: [alert.model],
    },
    run.periodTo,
  );
  content.critical = {
    id: alert.id,
    model: alert.model,
    feature: alert.feature,
    kind: alert.kind,
    severity: alert.severity,
    status: alert.status,
    recovered: alert.recoveredAt !== null,
    link: alertLink(deps.config, alert.id),
    peakPsi: alert.peakPsi,
    firstSeen: alert.firstSeen,
    lastSeen: alert.lastSeen,
    escalated,
  };
  return renderReport(content, charts);
}
