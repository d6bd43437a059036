import { driftSettingsFor, type ReportScheduleConfig } from '../config.js';
import type { AppDeps } from '../context.js';
import { type DriftResult, type FeatureHistogram, featureHistogramIn } from '../drift/service.js';
import { alertLink, retrainLink } from '../notifications/payloads.js';
import { type AlertKind, isDriftKind } from '../rules/alerts.js';
import type { AlertSeverity, Tx, WindowKind } from '../store/index.js';
import { TrafficSum, type TrafficSummary, windowTraffic } from '../traffic/service.js';

// What a report says, gathered from the store in one read transaction: per model, the served version,
// the period's traffic, the most drifted features (PSI now and at the end of the previous period), open
// alerts and pending retrain requests. Rendering (render.ts) only formats this.

/** Features listed per model, most drifted first. */
export const TOP_FEATURES = 5;
/** Features drawn in a model's PSI trend, most drifted first. */
export const TREND_FEATURES = 3;
/** Drifted features per model with a baseline-vs-current histogram. */
export const HISTOGRAM_FEATURES = 3;
/** Points of a traffic sparkline at most: longer periods are drawn in coarser buckets. */
const MAX_TRAFFIC_POINTS = 200;
/** Drift results read for a PSI trend. */
const MAX_TREND_RESULTS = 500;
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
  kind: AlertKind;
  severity: AlertSeverity;
  status: string;
  /** The signal is back to normal but nobody closed the alert yet. */
  recovered: boolean;
  link: string;
}

/** A point of a model's traffic over the period: one (possibly merged) bucket. */
export interface TrafficPoint {
  /** Start of the bucket, ms. */
  t: number;
  requests: number;
  errorRate: number | null;
  p95: number | null;
}

/** What a model's charts draw, read with the rest of the report. */
export interface ModelCharts {
  /** PSI per window end over the period's drift results (same kind and version as the report's), per feature. */
  psiTrend: { feature: string; points: { t: number; psi: number }[] }[];
  /** The window kind the trend is drawn from. */
  trendKind: 'rolling' | 'bucket' | null;
  /** The model's PSI thresholds (drawn as reference lines). */
  psiWarning: number;
  psiCritical: number;
  /** Traffic per bucket of the period, oldest first; buckets without records count zero requests. */
  traffic: TrafficPoint[];
  /** Baseline vs current shares of the most drifted features, over the drift result's window. */
  histograms: FeatureHistogram[];
}

/**
 * What a report says of a model, in order of precedence: drifting (its drift result drifted, or a drift
 * alert of it is open and not recovered), alerts (other open alerts), then why there is no verdict, or ok.
 * Never ok or quiet while an alert of the model is open.
 */
export type ModelStatus = 'drifting' | 'alerts' | 'too_few_records' | 'no_verdict' | 'no_result' | 'ok';

export interface ModelReport {
  model: string;
  /** The version driftwatch serves as active, when it serves the model. */
  activeVersion: string | null;
  traffic: TrafficSummary;
  /**
   * The drift result the report reads (see pickResult): the newest judged window of the period, the
   * rolling one first; a window without a verdict only when none was judged.
   */
  drift: {
    modelVersion: string | null;
    kind: WindowKind;
    window: { from: string; to: string };
    n: number;
    /** The result's verdict; null when no feature had enough values for one. */
    drifted: boolean | null;
    /** The model's minSamples: a window with fewer records gives no verdict. */
    minSamples: number;
  } | null;
  status: ModelStatus;
  /** status === 'drifting'. */
  drifting: boolean;
  features: FeatureLine[];
  alerts: AlertLine[];
  alertsBySeverity: Record<AlertSeverity, number>;
  retrain: { id: number; status: string; reason: string; link: string }[];
  charts: ModelCharts;
}

/** The alert a critical-alert mail is about. */
export interface CriticalAlertLine extends AlertLine {
  model: string;
  peakPsi: number | null;
  firstSeen: number;
  lastSeen: number;
  /** It was a warning first. */
  escalated: boolean;
}

export interface ReportContent {
  /** Set for an immediate mail on a critical alert (reports.critical): what it is about. */
  critical?: CriticalAlertLine;
  schedule: string;
  timezone: string;
  slot: number;
  period: { from: number; to: number };
  models: ModelReport[];
  /** Models the schedule lists that the store has neither records nor a baseline of (not in `models`). */
  unknownModels: string[];
  drifting: number;
}

/** Window kinds in the order a report prefers them: the rolling window is what live alerts come from. */
const KIND_ORDER: readonly WindowKind[] = ['rolling', 'bucket', 'range'];

/**
 * The result a report reads for a model over `range`: windows ending in (from, to], where `to` reaches to
 * the end of the bucket the period ends in — before the hour turns, the rolling window that raised the
 * alerts ends with the bucket in progress. The newest judged window of the first kind that has one
 * (`kinds`' order), so a closed bucket holding a handful of records never stands in for a judged rolling
 * window; only when no window was judged, the newest of the first kind that has any.
 */
async function pickResult(
  tx: Tx,
  model: string,
  range: { from: number; to: number },
  version: string | undefined,
  kinds: readonly WindowKind[] = KIND_ORDER,
): Promise<DriftResult | null> {
  let unjudged: DriftResult | null = null;
  for (const kind of kinds) {
    const rows = await tx.drift.list({
      model,
      from: range.from,
      to: range.to,
      kind,
      modelVersion: version,
      limit: 200,
    });
    for (const r of rows) {
      const body = parseResult(r);
      const end = Date.parse(body.window.to);
      if (end <= range.from || end > range.to) continue;
      if (body.drifted !== null) return body;
      unjudged ??= body;
    }
  }
  return unjudged;
}

const parseResult = (r: { id: number; result: string }): DriftResult => ({
  id: r.id,
  ...(JSON.parse(r.result) as Omit<DriftResult, 'id'>),
});

/** PSI over the period's windows of `kind` for `features`, oldest first (judged windows only). */
async function psiTrend(
  tx: Tx,
  model: string,
  period: { from: number; to: number },
  kind: 'rolling' | 'bucket',
  version: string | null,
  features: string[],
): Promise<ModelCharts['psiTrend']> {
  const rows = await tx.drift.list({
    model,
    from: period.from,
    to: period.to,
    kind,
    modelVersion: version ?? '',
    limit: MAX_TREND_RESULTS,
  });
  const results = rows
    .map(parseResult)
    .filter((r) => {
      const end = Date.parse(r.window.to);
      return end > period.from && end <= period.to;
    })
    .sort((a, b) => Date.parse(a.window.to) - Date.parse(b.window.to));
  return features.map((feature) => ({
    feature,
    // Only windows with enough values for a verdict (minSamples): PSI on a handful of records is noise.
    points: results.flatMap((r) => {
      const f = r.features.find((x) => x.feature === feature);
      return !f || f.psi === null || f.drifted === null ? [] : [{ t: Date.parse(r.window.to), psi: f.psi }];
    }),
  }));
}

/** The period's traffic bucket by bucket (merged into coarser buckets beyond MAX_TRAFFIC_POINTS). */
async function trafficPoints(
  tx: Tx,
  model: string,
  bucketMs: number,
  from: number,
  to: number,
): Promise<TrafficPoint[]> {
  const step = bucketMs * Math.max(1, Math.ceil((to - from) / bucketMs / MAX_TRAFFIC_POINTS));
  const sums = new Map<number, TrafficSum>();
  for (let t = from; t < to; t += step) sums.set(t, new TrafficSum());
  for (const r of await tx.aggregates.traffic({ model, bucketMs, from, to })) {
    const key = from + Math.floor((r.bucketStart - from) / step) * step;
    sums.get(key)?.add(r);
  }
  return [...sums].map(([t, sum]) => {
    const s = sum.summary();
    return { t, requests: s.requests, errorRate: s.error_rate, p95: s.latency.p95 };
  });
}

async function modelReport(
  deps: Pick<AppDeps, 'config' | 'store'>,
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
  // Windows ending up to the end of the bucket the period ends in (see pickResult).
  const reach = (end: number) => Math.ceil(end / s.bucket) * s.bucket;
  const range = { from: period.from, to: reach(period.to) };
  // The served version's drift when it has results, else the model's latest of any version.
  const version = activeVersion ?? undefined;
  const current =
    (version && (await pickResult(tx, model, range, version))) ||
    (await pickResult(tx, model, range, undefined));
  // The previous period's result of the same version, of the same kind of window when there is one, and
  // older than the current one.
  const previous = current
    ? await pickResult(
        tx,
        model,
        { from: period.from - length, to: Math.min(reach(period.from), Date.parse(current.window.to) - 1) },
        current.model_version === null ? undefined : current.model_version,
        [current.window_kind, ...KIND_ORDER.filter((k) => k !== current.window_kind)],
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
      recovered: a.recoveredAt !== null,
      link: alertLink(config, a.id),
    }));
  const retrain = (await tx.alerts.listRetrain({ model, limit: 100 }))
    .filter((r) => r.status === 'requested' || r.status === 'accepted' || r.status === 'in_progress')
    .map((r) => ({ id: r.id, status: r.status, reason: r.reason, link: retrainLink(config, r.id) }));

  // Charts: the PSI trend of the most drifted features over the period, drawn from the kind of window
  // with the most results (rolling ones on a tie), and histograms of the drifted ones in the result's window.
  const charts: ModelCharts = {
    psiTrend: [],
    trendKind: null,
    psiWarning: s.psiWarning,
    psiCritical: s.psiCritical,
    traffic: await trafficPoints(tx, model, s.bucket, bucketFrom, bucketTo),
    histograms: [],
  };
  if (current) {
    const top = features.filter((f) => f.psi !== null).slice(0, TREND_FEATURES);
    const names = top.map((f) => f.feature);
    const version = current.model_version;
    const rolling = await psiTrend(tx, model, range, 'rolling', version, names);
    const count = (t: ModelCharts['psiTrend']) => Math.max(0, ...t.map((f) => f.points.length));
    const bucket = count(rolling) >= 2 ? [] : await psiTrend(tx, model, range, 'bucket', version, names);
    const useBucket = count(bucket) > count(rolling);
    charts.psiTrend = useBucket ? bucket : rolling;
    charts.trendKind = names.length === 0 ? null : useBucket ? 'bucket' : 'rolling';
    const drifted = features.filter((f) => f.drifted === true).slice(0, HISTOGRAM_FEATURES);
    for (const f of drifted) {
      const h = await featureHistogramIn(deps, tx, model, f.feature, {
        modelVersion: version ?? '',
        from: Date.parse(current.window.from),
        to: Date.parse(current.window.to),
      });
      if (typeof h !== 'string') charts.histograms.push(h);
    }
  }

  const status = modelStatus(current, alerts, s.minSamples);
  return {
    model,
    activeVersion,
    traffic,
    drift: current
      ? {
          modelVersion: current.model_version,
          kind: current.window_kind,
          window: current.window,
          n: current.n,
          drifted: current.drifted,
          minSamples: s.minSamples,
        }
      : null,
    status,
    drifting: status === 'drifting',
    features,
    alerts,
    alertsBySeverity: {
      critical: alerts.filter((a) => a.severity === 'critical').length,
      warning: alerts.filter((a) => a.severity === 'warning').length,
    },
    retrain,
    charts,
  };
}

/** A model's status from its drift result and its open alerts (see ModelStatus). */
function modelStatus(result: DriftResult | null, alerts: AlertLine[], minSamples: number): ModelStatus {
  const driftAlert = alerts.some((a) => isDriftKind(a.kind) && !a.recovered);
  if (result?.drifted === true || driftAlert) return 'drifting';
  if (alerts.length > 0) return 'alerts';
  if (!result) return 'no_result';
  if (result.drifted === null) return result.n < minSamples ? 'too_few_records' : 'no_verdict';
  return 'ok';
}

/** Whether the store knows the model: it has records (a version row) or a baseline. */
async function modelExists(tx: Tx, model: string): Promise<boolean> {
  return (await tx.models.versions(model)).length > 0 || (await tx.baselines.list(model)).length > 0;
}

/** Everything a schedule's report for `slot` says, read in one snapshot. */
export async function gatherReport(
  deps: Pick<AppDeps, 'config' | 'store'>,
  schedule: ReportScheduleConfig,
  slot: number,
): Promise<ReportContent> {
  const period = { from: slot - schedule.period, to: slot };
  const unknownModels: string[] = [];
  const models = await deps.store.read(async (tx) => {
    const names = schedule.models ?? (await tx.metrics.knownModels(MAX_MODELS));
    const out: ModelReport[] = [];
    for (const name of names) {
      // A listed name the store knows nothing of (a typo, a model not deployed yet) is named, not reported
      // as a quiet model.
      if (schedule.models && !(await modelExists(tx, name))) unknownModels.push(name);
      else out.push(await modelReport(deps, tx, name, period));
    }
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
    unknownModels,
    drifting: models.filter((m) => m.drifting).length,
  };
}
