import { driftSettingsFor, type ReportScheduleConfig } from '../config.js';
import type { AppDeps } from '../context.js';
import type { DriftResult } from '../drift/service.js';
import { alertLink, retrainLink } from '../notifications/payloads.js';
import type { AlertSeverity, Tx } from '../store/index.js';
import { type TrafficSummary, windowTraffic } from '../traffic/service.js';

// What a report says, gathered from the store in one read transaction: per model, the served version,
// the period's traffic, the most drifted features (PSI now and at the end of the previous period), open
// alerts and pending retrain requests. Rendering (render.ts) only formats this.

/** Features listed per model, most drifted first. */
export const TOP_FEATURES = 5;
/** Models a report covers when the schedule names none (all the store knows). */
const MAX_MODELS = 200;

export interface FeatureLine {
  feature: string;
  psi: number | null;
  /** PSI at the end of the previous period, when a result from then exists. */
  previousPsi: number | null;
  /** psi − previousPsi. */
  change: number | null;
  drifted: boolean | null;
  severity: string | null;
}

export interface AlertLine {
  id: number;
  feature: string;
  kind: string;
  severity: AlertSeverity;
  status: string;
  link: string;
}

export interface ModelReport {
  model: string;
  /** The version driftwatch serves as active, when it serves the model. */
  activeVersion: string | null;
  traffic: TrafficSummary;
  /** The drift result the report reads: the latest evaluated window ending within the period. */
  drift: { modelVersion: string | null; window: { from: string; to: string }; n: number } | null;
  drifting: boolean;
  features: FeatureLine[];
  alerts: AlertLine[];
  alertsBySeverity: Record<AlertSeverity, number>;
  retrain: { id: number; status: string; reason: string; link: string }[];
}

export interface ReportContent {
  schedule: string;
  timezone: string;
  slot: number;
  period: { from: number; to: number };
  models: ModelReport[];
  drifting: number;
}

/** The latest result of a model whose window ends in (from, to]: rolling windows first, else any kind. */
async function resultEndingIn(
  tx: Tx,
  model: string,
  from: number,
  to: number,
  version: string | undefined,
): Promise<DriftResult | null> {
  for (const kind of ['rolling', undefined] as const) {
    const rows = await tx.drift.list({ model, from, to, kind, modelVersion: version, limit: 200 });
    for (const r of rows) {
      const body = { id: r.id, ...(JSON.parse(r.result) as Omit<DriftResult, 'id'>) };
      const end = Date.parse(body.window.to);
      if (end > from && end <= to) return body;
    }
  }
  return null;
}

async function modelReport(
  deps: Pick<AppDeps, 'config'>,
  tx: Tx,
  model: string,
  period: { from: number; to: number },
): Promise<ModelReport> {
  const { config } = deps;
  const s = driftSettingsFor(config, model);
  const served = await tx.serving.list(model);
  const activeVersion = served.find((v) => v.state === 'active')?.version ?? null;
  // Whole buckets: a period that does not start on a bucket boundary takes the bucket it starts in.
  const bucketFrom = Math.floor(period.from / s.bucket) * s.bucket;
  const bucketTo = Math.ceil(period.to / s.bucket) * s.bucket;
  const traffic = await windowTraffic(tx, { model, bucketMs: s.bucket, from: bucketFrom, to: bucketTo });

  const length = period.to - period.from;
  // The served version's drift when it has results, else the model's latest of any version.
  const version = activeVersion ?? undefined;
  const current =
    (version && (await resultEndingIn(tx, model, period.from, period.to, version))) ||
    (await resultEndingIn(tx, model, period.from, period.to, undefined));
  const previous = current
    ? await resultEndingIn(
        tx,
        model,
        period.from - length,
        period.from,
        current.model_version === null ? undefined : current.model_version,
      )
    : null;
  const before = new Map((previous?.features ?? []).map((f) => [f.feature, f.psi]));
  const features: FeatureLine[] = (current?.features ?? [])
    .map((f) => {
      const prev = before.get(f.feature) ?? null;
      return {
        feature: f.feature,
        psi: f.psi,
        previousPsi: prev,
        change: f.psi !== null && prev !== null ? f.psi - prev : null,
        drifted: f.drifted,
        severity: f.severity ?? null,
      };
    })
    .sort((a, b) => (b.psi ?? -1) - (a.psi ?? -1))
    .slice(0, TOP_FEATURES);

  const unclosed = (await tx.alerts.unclosed()).filter((a) => a.model === model);
  const alerts = unclosed
    .sort((a, b) => (a.severity === b.severity ? a.id - b.id : a.severity === 'critical' ? -1 : 1))
    .map((a) => ({
      id: a.id,
      feature: a.feature,
      kind: a.kind,
      severity: a.severity,
      status: a.status,
      link: alertLink(config, a.id),
    }));
  const retrain = (await tx.alerts.listRetrain({ model, limit: 100 }))
    .filter((r) => r.status === 'requested' || r.status === 'accepted' || r.status === 'in_progress')
    .map((r) => ({ id: r.id, status: r.status, reason: r.reason, link: retrainLink(config, r.id) }));

  return {
    model,
    activeVersion,
    traffic,
    drift: current ? { modelVersion: current.model_version, window: current.window, n: current.n } : null,
    drifting: current?.drifted === true,
    features,
    alerts,
    alertsBySeverity: {
      critical: alerts.filter((a) => a.severity === 'critical').length,
      warning: alerts.filter((a) => a.severity === 'warning').length,
    },
    retrain,
  };
}

/** Everything a schedule's report for `slot` says, read in one snapshot. */
export async function gatherReport(
  deps: Pick<AppDeps, 'config' | 'store'>,
  schedule: ReportScheduleConfig,
  slot: number,
): Promise<ReportContent> {
  const period = { from: slot - schedule.period, to: slot };
  const models = await deps.store.read(async (tx) => {
    const names = schedule.models ?? (await tx.metrics.knownModels(MAX_MODELS));
    const out: ModelReport[] = [];
    for (const name of names) out.push(await modelReport(deps, tx, name, period));
    return out;
  });
  // Drifting models first, then by open alerts, then by name.
  models.sort(
    (a, b) =>
      Number(b.drifting) - Number(a.drifting) ||
      b.alerts.length - a.alerts.length ||
      a.model.localeCompare(b.model),
  );
  return {
    schedule: schedule.name,
    timezone: schedule.timezone,
    slot,
    period,
    models,
    drifting: models.filter((m) => m.drifting).length,
  };
}
