import { type LoadedBaseline, refreshBaselines, resolveBaseline } from '../aggregates/baseline-cache.js';
import { bucketStart } from '../aggregates/service.js';
import type { ColumnProfile } from '../baselines/profile.js';
import { driftSettingsFor } from '../config.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import { processDriftResult, wakeSnoozed } from '../alerts/service.js';
import { type ColumnResult, evaluateWindow, psiBins, referenceCounts } from './evaluate.js';
import { latestVersion } from '../models/queries.js';
import { thresholdsFor } from './thresholds.js';
import {
  changedBuckets,
  getJobState,
  setJobState,
  upsertResult,
  versionsWithData,
  windowColumns,
  windowPerformance,
} from './queries.js';

type Deps = Pick<AppDeps, 'db' | 'config' | 'clock'>;

export interface DriftResult {
  id: number;
  model: string;
  model_version: string | null;
  baseline_id: number;
  window_kind: 'bucket' | 'rolling' | 'range';
  window: { from: string; to: string };
  n: number;
  features: ColumnResult[];
  prediction: ColumnResult | null;
  drifted_share: number | null;
  drifted: boolean | null;
  performance: {
    labeled: number;
    label_coverage: number | null;
    accuracy: number | null;
    mae: number | null;
    rmse: number | null;
  };
  evaluated_at: string;
}

function profilesOf(b: LoadedBaseline): { features: Map<string, ColumnProfile>; prediction: ColumnProfile | null } {
  const features = new Map<string, ColumnProfile>();
  for (const [name, binner] of b.features) features.set(name, binner.profile);
  return { features, prediction: b.prediction?.profile ?? null };
}

/** Evaluates one version's window [from, to) (bucket-aligned) against its baseline and stores the result. */
export function evaluateAndStore(
  deps: Deps,
  model: string,
  modelVersion: string,
  kind: DriftResult['window_kind'],
  from: number,
  to: number,
): DriftResult | null {
  const baseline = resolveBaseline(deps.db, model, modelVersion);
  if (!baseline) return null;
  const settings = driftSettingsFor(deps.config, model);
  const key = { model, modelVersion, bucketMs: settings.bucket, from, to };
  const window = windowColumns(deps.db, { ...key, baselineId: baseline.id });
  const { features, prediction } = profilesOf(baseline);
  const evaluation = evaluateWindow(features, prediction, window, settings, thresholdsFor(deps.db, deps.config, model, settings));
  const perf = windowPerformance(deps.db, key);
  const n = perf.records;
  const judged = [...evaluation.features, ...(evaluation.prediction ? [evaluation.prediction] : [])].filter((r) => r.drifted !== null);
  const drifted = judged.length === 0 ? null : judged.some((r) => r.drifted);
  const now = deps.clock();
  const body: Omit<DriftResult, 'id'> = {
    model,
    model_version: modelVersion === '' ? null : modelVersion,
    baseline_id: baseline.id,
    window_kind: kind,
    window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    n,
    features: evaluation.features,
    prediction: evaluation.prediction,
    drifted_share: evaluation.drifted_share,
    drifted,
    performance: {
      labeled: perf.labeled,
      label_coverage: n === 0 ? null : perf.labeled / n,
      accuracy: perf.classified === 0 ? null : perf.correct / perf.classified,
      mae: perf.regressed === 0 ? null : perf.absErrSum / perf.regressed,
      rmse: perf.regressed === 0 ? null : Math.sqrt(perf.sqErrSum / perf.regressed),
    },
    evaluated_at: new Date(now).toISOString(),
  };
  const id = upsertResult(deps.db, {
    model,
    modelVersion,
    baselineId: baseline.id,
    windowKind: kind,
    windowFrom: from,
    windowTo: to,
    n,
    drifted,
    driftedShare: evaluation.drifted_share,
    result: JSON.stringify(body),
    evaluatedAt: now,
  });
  return { id, ...body };
}

/** The rolling window that ends with the bucket containing `now`. */
export function rollingWindow(deps: Deps, model: string, now: number): { from: number; to: number } {
  const s = driftSettingsFor(deps.config, model);
  const to = bucketStart(now, s.bucket) + s.bucket;
  return { from: to - Math.max(s.bucket, Math.ceil(s.rollingWindow / s.bucket) * s.bucket), to };
}

/**
 * On-demand run for every model version with data in the window. Without a range: the rolling window.
 * A range is widened to whole buckets (aggregates are per bucket).
 */
export function runDrift(deps: Deps, model: string, range: { from?: number; to?: number } = {}): DriftResult[] {
  const s = driftSettingsFor(deps.config, model);
  refreshBaselines(deps.db, model);
  let kind: DriftResult['window_kind'] = 'range';
  let from: number;
  let to: number;
  if (range.from === undefined && range.to === undefined) {
    ({ from, to } = rollingWindow(deps, model, deps.clock()));
    kind = 'rolling';
  } else {
    to = range.to === undefined ? bucketStart(deps.clock(), s.bucket) + s.bucket : Math.ceil(range.to / s.bucket) * s.bucket;
    from = range.from === undefined ? to - Math.max(s.bucket, Math.ceil(s.rollingWindow / s.bucket) * s.bucket) : bucketStart(range.from, s.bucket);
    if (from >= to) throw new ApiError('bad_request', 'from must be before to', { problems: [{ path: 'from', message: 'must be before to' }] });
  }
  const results: DriftResult[] = [];
  for (const version of versionsWithData(deps.db, model, s.bucket, from, to)) {
    const r = evaluateAndStore(deps, model, version, kind, from, to);
    if (r) {
      processDriftResult(deps, r);
      results.push(r);
    }
  }
  return results;
}

const WATERMARK = 'drift.watermark';
const PENDING = 'drift.pending';

interface PendingBucket {
  model: string;
  modelVersion: string;
  bucketStart: number;
  bucketMs: number;
}
const keyOf = (b: PendingBucket) => `${b.model}\u0000${b.modelVersion}\u0000${b.bucketStart}`;

export interface DriftTickResult {
  evaluated: number;
  watermark: number;
  errors: { model: string; model_version: string | null; kind: string; from: string; error: string }[];
}

/**
 * Evaluates every closed bucket whose data changed since the last tick (late data included) and the
 * rolling window of each model version that received data. Pure apart from the database; `now` is given.
 */
export function runDriftTick(deps: Deps, now: number): DriftTickResult {
  const since = Number(getJobState(deps.db, WATERMARK) ?? 0);
  const changed = changedBuckets(deps.db, since);
  // Buckets that changed while still open: evaluated as closed buckets once their time is over, even if
  // no more data arrives for them.
  const pending = new Map<string, PendingBucket>(
    (JSON.parse(getJobState(deps.db, PENDING) ?? '[]') as PendingBucket[]).map((p) => [keyOf(p), p]),
  );
  let watermark = since;
  const buckets = new Map<string, PendingBucket>();
  const rolling = new Map<string, { model: string; modelVersion: string }>();
  for (const c of changed) {
    if (c.updatedAt > watermark) watermark = c.updatedAt;
    const s = driftSettingsFor(deps.config, c.model);
    if (c.bucketMs !== s.bucket) continue;
    const bucket = { model: c.model, modelVersion: c.modelVersion, bucketStart: c.bucketStart, bucketMs: c.bucketMs };
    if (c.bucketStart + c.bucketMs <= now) buckets.set(keyOf(bucket), bucket);
    else pending.set(keyOf(bucket), bucket);
    const roll = rollingWindow(deps, c.model, now);
    if (c.bucketStart >= roll.from && c.bucketStart < roll.to) rolling.set(`${c.model}\u0000${c.modelVersion}`, c);
  }
  for (const [key, p] of pending) {
    if (p.bucketStart + p.bucketMs > now) continue;
    buckets.set(key, p);
    pending.delete(key);
  }
  const result: DriftTickResult = { evaluated: 0, watermark, errors: [] };
  const evaluate = (model: string, modelVersion: string, kind: 'bucket' | 'rolling', from: number, to: number) => {
    // One window's failure is reported and does not stop the others.
    try {
      const r = evaluateAndStore(deps, model, modelVersion, kind, from, to);
      if (r) {
        processDriftResult(deps, r);
        result.evaluated++;
      }
      return true;
    } catch (err) {
      result.errors.push({ model, model_version: modelVersion || null, kind, from: new Date(from).toISOString(), error: (err as Error).message });
      return false;
    }
  };
  for (const model of new Set(changed.map((c) => c.model))) refreshBaselines(deps.db, model);
  for (const [key, b] of buckets) {
    // A bucket that failed is kept for the next tick rather than lost.
    if (!evaluate(b.model, b.modelVersion, 'bucket', b.bucketStart, b.bucketStart + b.bucketMs)) pending.set(key, b);
  }
  for (const r of rolling.values()) {
    const roll = rollingWindow(deps, r.model, now);
    evaluate(r.model, r.modelVersion, 'rolling', roll.from, roll.to);
  }
  wakeSnoozed(deps, now);
  // A write in this very millisecond after the tick read must still be seen: never move past now - 1.
  setJobState(deps.db, WATERMARK, String(Math.min(watermark, now - 1)), now);
  setJobState(deps.db, PENDING, JSON.stringify([...pending.values()]), now);
  return result;
}

export interface HistogramBin {
  label: string;
  /** Numeric bins: [lower, upper) with null for the open outer ends. */
  lower?: number | null;
  upper?: number | null;
  baseline: number;
  window: number;
}

/** Baseline vs window proportions per PSI bin (numeric) or category (categorical), for charts. */
export function featureHistogram(
  deps: Deps,
  model: string,
  feature: string,
  q: { from?: number; to?: number; modelVersion?: string },
) {
  const s = driftSettingsFor(deps.config, model);
  refreshBaselines(deps.db, model);
  // Without a version, show the version that sent data most recently (records usually carry one).
  const modelVersion = q.modelVersion ?? latestVersion(deps.db, model);
  const baseline = resolveBaseline(deps.db, model, modelVersion);
  if (!baseline) throw new ApiError('not_found', `model ${model} has no active baseline`);
  const isPrediction = feature === 'prediction' && !baseline.features.has('prediction');
  const binner = isPrediction ? baseline.prediction : baseline.features.get(feature);
  if (!binner) throw new ApiError('not_found', `baseline ${baseline.id} of model ${model} has no feature ${feature}`);
  const roll = rollingWindow(deps, model, deps.clock());
  const from = q.from === undefined ? roll.from : bucketStart(q.from, s.bucket);
  const to = q.to === undefined ? roll.to : Math.ceil(q.to / s.bucket) * s.bucket;
  const w = windowColumns(deps.db, { model, modelVersion, baselineId: baseline.id, bucketMs: s.bucket, from, to }).get(
    `${isPrediction ? 'prediction' : 'feature'}:${isPrediction ? 'prediction' : feature}`,
  );
  const profile = binner.profile;
  const ref = psiBins(profile, referenceCounts(profile));
  const cur = w ? psiBins(profile, w.counts) : new Float64Array(ref.length);
  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
  const refTotal = sum(ref);
  const curTotal = sum(cur);
  const bins: HistogramBin[] = [];
  for (let i = 0; i < ref.length; i++) {
    const shares = { baseline: (ref[i] as number) / refTotal, window: curTotal === 0 ? 0 : (cur[i] as number) / curTotal };
    if (profile.type === 'numeric') {
      const lower = i === 0 ? null : (profile.psiEdges[i - 1] as number);
      const upper = i === profile.psiEdges.length ? null : (profile.psiEdges[i] as number);
      bins.push({ label: `[${lower ?? '-inf'}, ${upper ?? 'inf'})`, lower, upper, ...shares });
    } else {
      const label = i < profile.categories.length ? (profile.categories[i] as string) : i === profile.categories.length ? '(other)' : '(unseen)';
      bins.push({ label, ...shares });
    }
  }
  return {
    model,
    model_version: modelVersion === '' ? null : modelVersion,
    baseline_id: baseline.id,
    feature,
    type: profile.type,
    window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    n: curTotal,
    bins,
  };
}
