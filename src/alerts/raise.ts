import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import type { ColumnResult } from '../drift/evaluate.js';
import type { DriftResult, UnknownFeature } from '../drift/service.js';
import { enqueueNotification, queueAlertmanagerResend } from '../notifications/service.js';
import { queueCriticalMail } from '../reports/critical.js';
import type { AlertKind, AlertRow, RetrainRow, Tx } from '../store/index.js';
import type { TrafficSummary } from '../traffic/service.js';
import type { NotificationEventType } from '../views.js';
import { jointSignals } from './joint.js';
import { decide, driftSignal, ladderSignal, qualitySignal, type Signal } from './policy.js';
import { sequentialSignals } from './sequential.js';
import { alertView, isFiring, retrainView } from './views.js';

// Raising: turns drift results into alerts (open, attach evidence, escalate, recover) and wakes snoozes.

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;
export const SYSTEM_ACTOR = 'driftwatch';

/**
 * Queues a notification about an alert or retrain request in the caller's transaction, and, for an alert
 * opened or escalated as critical, its immediate mail (reports.critical; once per alert).
 */
export async function notify(
  tx: Tx,
  deps: Pick<AppDeps, 'config'>,
  e: {
    type: NotificationEventType;
    at: number;
    actor: string | null;
    alert?: AlertRow;
    retrain?: RetrainRow;
    note?: string;
  },
): Promise<void> {
  await enqueueNotification(tx, deps.config, {
    type: e.type,
    at: e.at,
    actor: e.actor,
    ...(e.alert ? { alert: alertView(e.alert) } : {}),
    ...(e.retrain ? { retrainRequest: retrainView(e.retrain) } : {}),
    ...(e.note ? { note: e.note } : {}),
  });
  if (e.alert && (e.type === 'alert.opened' || e.type === 'alert.escalated'))
    await queueCriticalMail(tx, deps.config, e.alert, e.at);
}

/** Which window a measure comes from: part of every evidence row. */
const windowOf = (result: DriftResult) => ({
  window: result.window,
  window_kind: result.window_kind,
  drift_result_id: result.id,
  baseline_id: result.baseline_id,
});

function measures(r: ColumnResult, result: DriftResult) {
  return {
    ...windowOf(result),
    n: r.n,
    psi: r.psi,
    psi_warning: r.psi_warning,
    ks_statistic: r.ks_statistic,
    ks_pvalue: r.ks_pvalue,
    chi2_statistic: r.chi2_statistic,
    chi2_pvalue: r.chi2_pvalue,
    pvalue_adjusted: r.pvalue_adjusted,
    wasserstein_normed: r.wasserstein_normed,
    js: r.js,
    missing_rate: r.missing_rate,
    baseline_missing_rate: r.baseline_missing_rate,
    type_mismatch_rate: r.type_mismatch_rate,
    unseen_rate: r.unseen_rate,
    out_of_range_rate: r.out_of_range_rate,
    severity: r.severity,
  };
}

/** Measures of a feature the baseline does not have: only how often production sent it. */
function unknownMeasures(u: UnknownFeature, result: DriftResult) {
  return {
    ...windowOf(result),
    n: u.records,
    unknown_feature_rate: u.rate,
    schema: 'feature not in the baseline',
  };
}

function isSnoozed(alert: AlertRow, now: number): boolean {
  return alert.status === 'snoozed' && alert.snoozedUntil !== null && alert.snoozedUntil > now;
}

/** How many times a system change is retried when a reviewer changed the alert in between. */
const CAS_RETRIES = 5;

/** The window an alert signal comes from: a stored drift result, or a traffic window (see processTraffic). */
export type SignalWindow = Pick<DriftResult, 'id' | 'model' | 'model_version' | 'window' | 'window_kind'>;

/** Marks an alert recovered by a calm window; false when a reviewer changed it in between (retry). */
async function markRecovered(
  tx: Tx,
  deps: Deps,
  existing: AlertRow,
  calmTo: string,
  text: string,
  now: number,
): Promise<boolean> {
  const updated = await tx.alerts.update(existing.id, existing.version, { recoveredAt: now }, now);
  if (!updated) return false;
  await tx.alerts.addEvent({
    alertId: existing.id,
    at: now,
    actor: SYSTEM_ACTOR,
    action: 'recovered',
    fromStatus: existing.status,
    toStatus: existing.status,
    note: `window ending ${calmTo} is back to normal`,
    data: text,
  });
  // A snoozed alert stays quiet until its time, recovery included.
  if (!isSnoozed(existing, now))
    await notify(tx, deps, { type: 'alert.recovered', at: now, actor: null, alert: updated });
  return true;
}

/** Stored closed-bucket results looked at when firing evidence arrives late (enough for weeks of hourly buckets). */
const CALM_LOOKUP_LIMIT = 1000;

/**
 * Recovery must not depend on arrival order: when firing evidence is attached after a calm closed bucket
 * lying wholly after it was already judged (a backfilled past bucket), that calm bucket recovers the alert now.
 */
async function recoverIfCalmAfter(
  tx: Tx,
  deps: Deps,
  alert: AlertRow,
  judge: (stored: DriftResult) => Signal,
  now: number,
): Promise<void> {
  if (alert.recoveredAt !== null) return;
  const lastTo = await tx.alerts.latestEvidenceTo(alert.id);
  if (lastTo === null) return;
  const rows = await tx.drift.list({
    model: alert.model,
    kind: 'bucket',
    from: lastTo,
    limit: CALM_LOOKUP_LIMIT,
  });
  for (const row of rows) {
    const stored = JSON.parse(row.result) as DriftResult;
    if (stored.rebuilding || Date.parse(stored.window.from) < lastTo) continue;
    const signal = judge({ ...stored, id: row.id });
    if (signal === null || signal.firing) continue;
    await markRecovered(
      tx,
      deps,
      alert,
      stored.window.to,
      JSON.stringify({ window: stored.window, drift_result_id: row.id }),
      now,
    );
    return;
  }
}

/** Applies the alert policy to one feature signal of a window, in the caller's transaction. */
export async function applySignal(
  tx: Tx,
  deps: Deps,
  result: SignalWindow,
  feature: string,
  kind: AlertKind,
  signal: Signal,
  m: Record<string, unknown> & { severity?: unknown },
  psi: number | null,
  judge?: (stored: DriftResult) => Signal,
): Promise<void> {
  const now = deps.clock();
  const windowFrom = Date.parse(result.window.from);
  const windowTo = Date.parse(result.window.to);
  for (let attempt = 0; attempt < CAS_RETRIES; attempt++) {
    const existing = await tx.alerts.openFor(result.model, feature, kind);
    const lastEvidenceTo = existing ? await tx.alerts.latestEvidenceTo(existing.id) : null;
    // Recovery: the rolling window decides for live traffic, where one calm hour inside a drifting day is
    // no recovery. A closed bucket decides only when it lies wholly after every window that fired (the
    // alert came from backfilled, past buckets that no rolling window covers any more).
    if (signal && !signal.firing && result.window_kind !== 'rolling') {
      if (result.window_kind !== 'bucket' || lastEvidenceTo === null || windowFrom < lastEvidenceTo) return;
    }
    const action = decide(existing, signal, windowTo, lastEvidenceTo, now);
    if (action.type === 'none') return;
    const text = JSON.stringify(m);
    if (action.type === 'recover') {
      if (!existing) return;
      if (!(await markRecovered(tx, deps, existing, result.window.to, text, now))) continue;
      return;
    }
    const severity = action.severity;
    let alert: AlertRow;
    if (action.type === 'open') {
      const inserted = await tx.alerts.insert({
        model: result.model,
        modelVersion: result.model_version ?? '',
        feature,
        kind,
        severity,
        status: 'open',
        evidenceCount: 1,
        firstSeen: windowFrom,
        lastSeen: windowTo,
        peakPsi: psi,
        latest: text,
        peak: text,
        createdAt: now,
        updatedAt: now,
      });
      // Another writer opened it first (the unique index on open alerts): attach to that one instead.
      if (!inserted) continue;
      alert = inserted;
      await tx.alerts.addEvent({
        alertId: alert.id,
        at: now,
        actor: SYSTEM_ACTOR,
        action: 'opened',
        fromStatus: null,
        toStatus: 'open',
        note: null,
        data: text,
      });
      await notify(tx, deps, { type: 'alert.opened', at: now, actor: null, alert });
    } else if (action.type === 'attach' && existing) {
      // A window re-evaluated (late data, or the rolling window between bucket boundaries) is the same evidence.
      const known = await tx.alerts.hasEvidence(existing.id, result.id);
      const newPeak = psi !== null && (existing.peakPsi === null || psi > existing.peakPsi);
      // Evidence alone does not bump the version a reviewer holds; a change of severity, status or
      // recovery does, since those are what a reviewer acts on.
      const visible = action.escalate || action.reopen || existing.recoveredAt !== null;
      const updated = await tx.alerts.update(
        existing.id,
        existing.version,
        {
          severity,
          modelVersion: result.model_version ?? '',
          evidenceCount: existing.evidenceCount + (known ? 0 : 1),
          firstSeen: Math.min(existing.firstSeen, windowFrom),
          lastSeen: Math.max(existing.lastSeen, windowTo),
          latest: text,
          recoveredAt: null,
          ...(newPeak ? { peakPsi: psi, peak: text } : {}),
          ...(action.reopen ? { status: 'open' as const, snoozedUntil: null } : {}),
        },
        now,
        { bumpVersion: visible },
      );
      if (!updated) continue;
      alert = updated;
      if (action.reopen) {
        await tx.alerts.addEvent({
          alertId: alert.id,
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'snooze_ended',
          fromStatus: 'snoozed',
          toStatus: 'open',
          note: 'still drifting after the snooze',
          data: null,
        });
        await notify(tx, deps, { type: 'alert.opened', at: now, actor: null, alert });
      }
      if (action.escalate) {
        await tx.alerts.addEvent({
          alertId: alert.id,
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'escalated',
          fromStatus: alert.status,
          toStatus: alert.status,
          note: 'warning → critical',
          data: text,
        });
        if (!action.quiet) await notify(tx, deps, { type: 'alert.escalated', at: now, actor: null, alert });
      }
    } else return;
    await tx.alerts.upsertEvidence({
      alertId: alert.id,
      driftResultId: result.id,
      windowKind: result.window_kind,
      windowFrom,
      windowTo,
      severity,
      measures: text,
      at: now,
    });
    if (judge) await recoverIfCalmAfter(tx, deps, alert, judge, now);
    return;
  }
  throw new Error(`alert for ${result.model}/${feature}/${kind} kept changing under the drift tick`);
}

/** Raises, extends and recovers alerts from a stored drift result (bucket and rolling windows). */
export async function processDriftResult(deps: Deps, result: DriftResult): Promise<void> {
  // On-demand ranges are for looking, not paging; a window being rebuilt holds only part of its records.
  if (result.window_kind === 'range' || result.rebuilding) return;
  const settings = driftSettingsFor(deps.config, result.model);
  await deps.store.tx(async (tx) => {
    // The same signal read from another stored window, for recovery by a calm bucket judged earlier.
    const column = (stored: DriftResult, feature: string) =>
      stored.features.find((f) => f.feature === feature);
    // With alerts.sequential, drift alerts come from each feature's CUSUM over closed buckets instead.
    const sequential = await sequentialSignals(tx, deps, result);
    for (const r of result.features) {
      const seq = sequential?.get(r.feature);
      await applySignal(
        tx,
        deps,
        result,
        r.feature,
        'drift',
        sequential ? (seq?.signal ?? null) : driftSignal(r),
        seq ? { ...measures(r, result), raised_by: 'sequential', cusum: seq.cusum } : measures(r, result),
        r.psi,
        sequential
          ? undefined
          : (s) => {
              const c = column(s, r.feature);
              return c ? driftSignal(c) : null;
            },
      );
      await applySignal(
        tx,
        deps,
        result,
        r.feature,
        'data_quality',
        qualitySignal(r, settings.qualityRate, settings.minSamples),
        measures(r, result),
        r.psi,
        (s) => {
          const c = column(s, r.feature);
          return c ? qualitySignal(c, settings.qualityRate, settings.minSamples) : null;
        },
      );
    }
    if (result.prediction) {
      await applySignal(
        tx,
        deps,
        result,
        'prediction',
        'prediction_drift',
        driftSignal(result.prediction),
        measures(result.prediction, result),
        result.prediction.psi,
        (s) => (s.prediction ? driftSignal(s.prediction) : null),
      );
    }
    for (const j of await jointSignals(tx, result, settings.minSamples, windowOf(result)))
      await applySignal(tx, deps, result, j.feature, 'multivariate_drift', j.signal, j.measures, null);
    // Features the baseline does not have: a data-quality (schema) signal once frequent enough.
    const baselineFeatures = new Set(result.features.map((f) => f.feature));
    const unknown = new Map(result.unknown_features.map((u) => [u.feature, u]));
    const enough = result.n >= settings.minSamples;
    for (const u of result.unknown_features) {
      const signal: Signal =
        !enough || u.rate === null ? null : ladderSignal('data_quality', u.rate, settings.qualityRate);
      await applySignal(
        tx,
        deps,
        result,
        u.feature,
        'data_quality',
        signal,
        unknownMeasures(u, result),
        null,
      );
    }
    if (enough) {
      // An open schema alert whose feature no longer arrives is calm in this window.
      for (const open of await tx.alerts.list({
        model: result.model,
        kind: 'data_quality',
        status: ['open', 'acknowledged', 'decided', 'snoozed'],
        limit: 1000,
      })) {
        if (baselineFeatures.has(open.feature) || unknown.has(open.feature)) continue;
        await applySignal(
          tx,
          deps,
          result,
          open.feature,
          'data_quality',
          { firing: false },
          unknownMeasures({ feature: open.feature, records: 0, rate: 0 }, result),
          null,
        );
      }
    }
  });
}

/** The alert "feature" of traffic alerts (latency, error_rate): they concern the model, not a column. */
export const TRAFFIC_FEATURE = '(traffic)';

/** A traffic window judged by the drift tick: a closed bucket or the rolling window of a model version. */
export interface TrafficWindow {
  model: string;
  modelVersion: string;
  kind: 'bucket' | 'rolling';
  from: number;
  to: number;
  traffic: TrafficSummary;
}

/**
 * Traffic evidence has no drift result; its drift_result_id is a negative number unique per window
 * (−(2·to + 1) for rolling windows, −2·to for buckets), so a window judged again replaces its evidence.
 */
export const trafficWindowId = (w: Pick<TrafficWindow, 'kind' | 'to'>) =>
  -(2 * w.to + (w.kind === 'rolling' ? 1 : 0));

function trafficMeasures(w: TrafficWindow, threshold: number | null) {
  return {
    window: { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString() },
    window_kind: w.kind,
    model_version: w.modelVersion === '' ? null : w.modelVersion,
    requests: w.traffic.requests,
    errors: w.traffic.errors,
    error_rate: w.traffic.error_rate,
    latency_count: w.traffic.latency.count,
    latency_p50_ms: w.traffic.latency.p50,
    latency_p95_ms: w.traffic.latency.p95,
    latency_p99_ms: w.traffic.latency.p99,
    latency_mean_ms: w.traffic.latency.mean,
    threshold,
  };
}

/** The kind's ladder (rules.ts) on a traffic measure; null below minSamples. */
function thresholdSignal(
  kind: 'latency' | 'error_rate',
  value: number | null,
  samples: number,
  threshold: number,
  minSamples: number,
): Signal {
  if (value === null || samples < minSamples) return null;
  return ladderSignal(kind, value, threshold);
}

/**
 * Raises, extends and recovers latency and error_rate alerts from a traffic window, by the model's
 * `latencyP95Ms` and `errorRate` (off when unset). One alert per (model, kind), as for drift.
 */
export async function processTraffic(deps: Deps, w: TrafficWindow): Promise<void> {
  const settings = driftSettingsFor(deps.config, w.model);
  const { latencyP95Ms, errorRate } = settings;
  if (latencyP95Ms === undefined && errorRate === undefined) return;
  const window: SignalWindow = {
    id: trafficWindowId(w),
    model: w.model,
    model_version: w.modelVersion === '' ? null : w.modelVersion,
    window: { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString() },
    window_kind: w.kind,
  };
  await deps.store.tx(async (tx) => {
    if (latencyP95Ms !== undefined) {
      const signal = thresholdSignal(
        'latency',
        w.traffic.latency.p95,
        w.traffic.latency.count,
        latencyP95Ms,
        settings.minSamples,
      );
      await applySignal(
        tx,
        deps,
        window,
        TRAFFIC_FEATURE,
        'latency',
        signal,
        trafficMeasures(w, latencyP95Ms),
        null,
      );
    }
    if (errorRate !== undefined) {
      const signal = thresholdSignal(
        'error_rate',
        w.traffic.error_rate,
        w.traffic.requests,
        errorRate,
        settings.minSamples,
      );
      await applySignal(
        tx,
        deps,
        window,
        TRAFFIC_FEATURE,
        'error_rate',
        signal,
        trafficMeasures(w, errorRate),
        null,
      );
    }
  });
}

/** Snoozed alerts whose time has come go back to open. */
export async function wakeSnoozed(deps: Deps, now: number): Promise<number> {
  return deps.store.tx(async (tx) => {
    let woken = 0;
    for (const due of await tx.alerts.dueSnoozed(now)) {
      const alert = await tx.alerts.update(due.id, due.version, { status: 'open', snoozedUntil: null }, now);
      if (!alert) continue;
      woken++;
      await tx.alerts.addEvent({
        alertId: due.id,
        at: now,
        actor: SYSTEM_ACTOR,
        action: 'snooze_ended',
        fromStatus: 'snoozed',
        toStatus: 'open',
        note: null,
        data: null,
      });
      // Back in the queue either way; it only pages again if it is still drifting.
      if (alert.recoveredAt === null)
        await notify(tx, deps, { type: 'alert.opened', at: now, actor: null, alert });
    }
    return woken;
  });
}

/** Re-sends the firing alerts to each Alertmanager channel (see queueAlertmanagerResend). */
export async function resendFiring(deps: Deps, now: number): Promise<number> {
  return deps.store.tx(async (tx) => {
    const firing = (await tx.alerts.unclosed()).filter((a) => isFiring(a, now)).map(alertView);
    return queueAlertmanagerResend(tx, deps.config, firing, now);
  });
}
