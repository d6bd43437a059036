import { baselineCache } from '../aggregates/baseline-cache.js';
import { fromRealizedVector, fromVector, type PerformanceSpec } from '../aggregates/performance.js';
import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { requireModel } from '../drift/service.js';
import { ApiError } from '../errors.js';
import {
  type Estimate,
  estimateBinary,
  estimateMulticlass,
  merge,
  type PerformanceAccumulator,
} from '../stats/performance.js';
import {
  mergeRealized,
  type RealizedAccumulator,
  type RealizedPerformance,
  realizedPerformance,
} from '../stats/realized.js';
import type { PerformanceRow, Tx } from '../store/index.js';

// GET /v1/models/:model/performance: per window and model version, the performance estimated from the
// logged probabilities (CBPE, src/stats/performance.ts) beside the metrics the arrived labels realize
// (src/stats/realized.ts), both summed from per-bucket rows of the same spec.

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;

/** NaN (an undefined metric) is null in JSON. */
const num = (v: number) => (Number.isFinite(v) ? v : null);
const band = (e: Estimate) => ({ lower: num(e.lower), upper: num(e.upper), sd: num(e.sd) });

export interface PerformanceEstimateView {
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  /** Binary: the AUC; K classes: the mean one-vs-rest AUC (null when the per-class cells are not kept). */
  roc_auc: number | null;
  /** 95% bands for the metric the labels will realize; precision, recall and f1 are macro for K classes. */
  band: Record<
    'accuracy' | 'precision' | 'recall' | 'f1' | 'roc_auc',
    { lower: number | null; upper: number | null; sd: number | null } | null
  >;
  /** Bound on the AUC's error from treating pairs within a score cell as ties. */
  roc_auc_error_bound: number | null;
  /** K classes: each class's metrics (one-vs-rest AUC), in `classes` order; null for binary. */
  per_class: EstimatedClassView[] | null;
}

export interface EstimatedClassView {
  class: string;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  roc_auc: number | null;
}

export interface RealizedClassView {
  class: string;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  /** Labels of the class. */
  support: number;
  /** K classes: one-vs-rest AUC; binary: null (the AUC is the top-level one). */
  roc_auc: number | null;
}

/** Metrics of the labels that have arrived, shaped as the estimate (precision…f1: positive class or macro). */
export interface RealizedView {
  /** Labelled rows counted. */
  n: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  roc_auc: number | null;
  /** Bound on |roc_auc − the AUC of the raw scores| from counting pairs within a score cell as ties. */
  roc_auc_error_bound: number | null;
  /** Binary: classes "0" and "1"; K classes: in `classes` order. */
  per_class: RealizedClassView[];
  /** Unweighted means over all classes, an undefined metric counting 0 (the estimate's average). */
  macro: { precision: number | null; recall: number | null; f1: number | null };
  /** Rows: predicted class; columns: the label's class (K classes: a last "(other)" for labels of no class). */
  confusion: { predicted: string[]; actual: string[]; counts: number[][] };
}

export interface PerformanceResult {
  window: { from: string; to: string };
  model_version: string | null;
  kind: 'binary' | 'multiclass';
  threshold: number | null;
  classes: string[] | null;
  /** Rows with probabilities the estimate is computed from. */
  n: number;
  estimated: PerformanceEstimateView;
  /** Metrics of the window's arrived labels on rows of the estimate's spec; null before any. */
  realized: RealizedView | null;
  labeled: number;
  /** The baseline's accuracy on its labelled rows (built with label=), what performance_drop compares with. */
  baseline_accuracy: number | null;
}

export function estimateView(
  acc: PerformanceAccumulator,
  classes: readonly string[] | null = null,
): PerformanceEstimateView {
  if (acc.kind === 'binary') {
    const e = estimateBinary(acc);
    return {
      accuracy: num(e.accuracy.value),
      precision: num(e.precision.value),
      recall: num(e.recall.value),
      f1: num(e.f1.value),
      roc_auc: num(e.auc.value),
      band: {
        accuracy: band(e.accuracy),
        precision: band(e.precision),
        recall: band(e.recall),
        f1: band(e.f1),
        roc_auc: band(e.auc),
      },
      roc_auc_error_bound: num(e.aucErrorBound),
      per_class: null,
    };
  }
  const e = estimateMulticlass(acc);
  const kept = acc.auc !== undefined;
  return {
    accuracy: num(e.accuracy.value),
    precision: num(e.macro.precision.value),
    recall: num(e.macro.recall.value),
    f1: num(e.macro.f1.value),
    roc_auc: num(e.auc.value),
    band: {
      accuracy: band(e.accuracy),
      precision: band(e.macro.precision),
      recall: band(e.macro.recall),
      f1: band(e.macro.f1),
      roc_auc: kept ? band(e.auc) : null,
    },
    roc_auc_error_bound: num(e.aucErrorBound),
    per_class: e.perClass.map((c, j) => ({
      class: classes?.[j] ?? String(j),
      precision: num(c.precision.value),
      recall: num(c.recall.value),
      f1: num(c.f1.value),
      roc_auc: num(e.aucPerClass[j]?.value ?? Number.NaN),
    })),
  };
}

export function realizedView(acc: RealizedAccumulator, classes: readonly string[] | null): RealizedView {
  const r: RealizedPerformance = realizedPerformance(acc);
  const names = acc.kind === 'binary' ? ['0', '1'] : [...(classes ?? r.perClass.map((_, j) => String(j)))];
  const actual = acc.kind === 'binary' ? names : [...names, '(other)'];
  const counts: number[][] = names.map((_, i) =>
    r.confusion.slice(i * actual.length, (i + 1) * actual.length),
  );
  const top = acc.kind === 'binary' ? (r.perClass[1] as RealizedPerformance['perClass'][number]) : r.macro;
  return {
    n: r.rows,
    accuracy: num(r.accuracy),
    precision: num(top.precision),
    recall: num(top.recall),
    f1: num(top.f1),
    roc_auc: num(r.auc),
    roc_auc_error_bound: num(r.aucErrorBound),
    per_class: r.perClass.map((c, j) => ({
      class: names[j] as string,
      precision: num(c.precision),
      recall: num(c.recall),
      f1: num(c.f1),
      support: c.support,
      roc_auc: acc.kind === 'binary' ? null : num(r.aucPerClass[j] ?? Number.NaN),
    })),
    macro: { precision: num(r.macro.precision), recall: num(r.macro.recall), f1: num(r.macro.f1) },
    confusion: { predicted: names, actual, counts },
  };
}

/**
 * The window's accumulator per version: the sum of its buckets' rows of the spec with the most rows (a
 * threshold or class set changed mid-window leaves the minority shape out rather than mixing shapes).
 */
function byVersion(
  rows: readonly PerformanceRow[],
): Map<string, { spec: PerformanceSpec; specText: string; rows: number; acc: PerformanceAccumulator }> {
  const totals = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const specs = totals.get(r.modelVersion) ?? new Map<string, number>();
    specs.set(r.spec, (specs.get(r.spec) ?? 0) + r.rows);
    totals.set(r.modelVersion, specs);
  }
  const out = new Map<
    string,
    { spec: PerformanceSpec; specText: string; rows: number; acc: PerformanceAccumulator }
  >();
  for (const [version, specs] of totals) {
    const [specText, n] = [...specs.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0] as [
      string,
      number,
    ];
    const spec = JSON.parse(specText) as PerformanceSpec;
    let acc: PerformanceAccumulator | null = null;
    for (const r of rows) {
      if (r.modelVersion !== version || r.spec !== specText) continue;
      const a = fromVector(spec, r.sums);
      acc = acc === null ? a : merge(acc, a);
    }
    if (acc) out.set(version, { spec, specText, rows: n, acc });
  }
  return out;
}

/** The estimates of one window, per model version (or only `modelVersion`), in the caller's transaction. */
export async function windowPerformance(
  tx: Tx,
  deps: Pick<Deps, 'config' | 'store'>,
  q: { model: string; modelVersion?: string | undefined; bucketMs: number; from: number; to: number },
): Promise<PerformanceResult[]> {
  const found = byVersion(await tx.performance.window(q));
  const labelled = await tx.performance.realizedWindow(q);
  const entry = await baselineCache(deps.store).get(tx, q.model);
  const results: PerformanceResult[] = [];
  for (const [version, w] of [...found.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const outcomes = await tx.aggregates.windowOutcomes({ ...q, modelVersion: version });
    const baseline = entry.byVersion.get(version) ?? entry.latest;
    const facts = baseline?.performance ?? null;
    const classes = w.spec.kind === 'multiclass' ? w.spec.classes : null;
    // The labels counted in the cells of the estimate's spec (the same rows' decisions).
    let realized: RealizedAccumulator | null = null;
    for (const r of labelled) {
      if (r.modelVersion !== version || r.spec !== w.specText || r.rows === 0) continue;
      const a = fromRealizedVector(w.spec, r.sums);
      realized = realized === null ? a : mergeRealized(realized, a);
    }
    results.push({
      window: { from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString() },
      model_version: version === '' ? null : version,
      kind: w.spec.kind,
      threshold: w.spec.kind === 'binary' ? w.spec.threshold : null,
      classes: w.spec.kind === 'multiclass' ? w.spec.classes : null,
      n: w.rows,
      estimated: estimateView(w.acc, classes),
      realized: realized === null ? null : realizedView(realized, classes),
      labeled: outcomes.labeled,
      baseline_accuracy:
        facts && facts.kind === w.spec.kind && Number.isFinite(facts.accuracy) ? facts.accuracy : null,
    });
  }
  return results;
}

/** Longest range one request may span, in buckets (each bucket is a window of its own). */
export const MAX_PERFORMANCE_WINDOWS = 1_000;

/**
 * GET /v1/models/:model/performance: one result per bucket (`kind=bucket`) or per rolling window ending at
 * each bucket's end (`kind=rolling`) in [from, to), widened to whole buckets; default the rolling window.
 */
export async function performanceSeries(
  deps: Deps,
  model: string,
  q: {
    from?: number | undefined;
    to?: number | undefined;
    kind: 'bucket' | 'rolling';
    modelVersion?: string;
  },
): Promise<PerformanceResult[]> {
  const s = driftSettingsFor(deps.config, model);
  const end = Math.floor(deps.clock() / s.bucket) * s.bucket + s.bucket;
  const to = q.to === undefined ? end : Math.ceil(q.to / s.bucket) * s.bucket;
  const span = Math.max(s.bucket, Math.ceil(s.rollingWindow / s.bucket) * s.bucket);
  const from = q.from === undefined ? to - span : Math.floor(q.from / s.bucket) * s.bucket;
  if (from >= to)
    throw new ApiError('bad_request', 'from: must be before to', {
      problems: [{ path: 'from', message: 'must be before to' }],
    });
  if ((to - from) / s.bucket > MAX_PERFORMANCE_WINDOWS)
    throw new ApiError('bad_request', `from: the range spans more than ${MAX_PERFORMANCE_WINDOWS} buckets`, {
      problems: [{ path: 'from', message: `the range spans more than ${MAX_PERFORMANCE_WINDOWS} buckets` }],
    });
  return deps.store.read(async (tx) => {
    await requireModel(tx, model);
    // Buckets that hold performance rows at all, so empty stretches cost no query each; a day rolled up from
    // older buckets (retention.hourlyDays) is one window of a day.
    const lengths = new Map<number, number>();
    for (const r of await tx.performance.window({
      model,
      modelVersion: q.modelVersion,
      bucketMs: s.bucket,
      from,
      to,
    }))
      lengths.set(r.bucketStart, Math.max(lengths.get(r.bucketStart) ?? 0, r.bucketMs));
    // Late rows of a rolled-up day (hourly rows beside its day row) are read with the day's window.
    const days = [...lengths].filter(([, length]) => length > s.bucket);
    const inDay = (start: number, length: number) =>
      length === s.bucket && days.some(([d, l]) => start >= d && start < d + l);
    const out: PerformanceResult[] = [];
    for (const [start, length] of [...lengths].sort((a, b) => a[0] - b[0])) {
      if (inDay(start, length)) continue;
      const window =
        q.kind === 'bucket'
          ? { from: start, to: start + length }
          : { from: start + length - Math.max(span, length), to: start + length };
      out.push(
        ...(await windowPerformance(tx, deps, {
          model,
          modelVersion: q.modelVersion,
          bucketMs: s.bucket,
          ...window,
        })),
      );
    }
    return out;
  });
}
