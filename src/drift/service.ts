import { baselineCache, profilesOf } from '../aggregates/baseline-cache.js';
import { bucketStart, zeroTallies } from '../aggregates/service.js';
import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import type { MultivariateResult } from '../multivariate/joint.js';
import { windowJoint } from '../multivariate/service.js';
import { addCountsInto } from '../store/counts.js';
import type {
  StoredAggregateRow,
  StoredFeatureResult,
  StoredResultRow,
  Tx,
  WindowKind,
} from '../store/index.js';
import { thresholdsFor } from '../thresholds/service.js';
import {
  type ColumnResult,
  evaluateWindow,
  psiBins,
  referenceCounts,
  type WindowColumn,
} from './evaluate.js';

// Evaluates windows and returns (and stores) results. It raises no alerts: the composing step in jobs/
// hands results to alerts/, so data flows one way.

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;

/** Features per model version kept in feature_latest (and so exported as metrics labels). */
export const MAX_FEATURES_LATEST = 500;

/** A feature present in production records but absent from the baseline (a schema signal). */
export interface UnknownFeature {
  feature: string;
  /** Records of the window that carried it. */
  records: number;
  /** Share of the window's records that carried it. */
  rate: number | null;
}

export interface DriftResult {
  id: number;
  model: string;
  model_version: string | null;
  baseline_id: number;
  window_kind: WindowKind;
  window: { from: string; to: string };
  n: number;
  features: ColumnResult[];
  prediction: ColumnResult | null;
  /** Features production sent that the baseline does not have. */
  unknown_features: UnknownFeature[];
  /** Joint shifts of the numeric features (reconstruction error, correlation pairs); null when not watched. */
  multivariate: MultivariateResult | null;
  drifted_share: number | null;
  drifted: boolean | null;
  performance: {
    labeled: number;
    label_coverage: number | null;
    accuracy: number | null;
    mae: number | null;
    rmse: number | null;
  };
  /**
   * Set while the baseline's aggregates are being rebuilt after an activation: the window then holds only
   * part of its records, so the numbers are provisional and no alert is raised from them.
   */
  rebuilding: { records_done: number; records_total: number } | null;
  evaluated_at: string;
}

/**
 * Sums a version's aggregate rows over a window, keyed "role:name". Count vectors are added as stored (no
 * decoded copy per bucket); each column's length is its first row's.
 */
export function sumWindow(rows: readonly StoredAggregateRow[]): Map<string, WindowColumn> {
  const out = new Map<string, WindowColumn>();
  for (const r of rows) {
    const key = `${r.role}:${r.name}`;
    let w = out.get(key);
    if (!w) {
      w = { ...zeroTallies(), counts: addCountsInto(r.counts) };
      out.set(key, w);
    } else addCountsInto(r.counts, w.counts);
    w.n += r.n;
    w.missing += r.missing;
    w.typeMismatch += r.typeMismatch;
    w.outOfRange += r.outOfRange;
    w.unseen += r.unseen;
    w.offEdge += r.offEdge;
    if (r.vmin !== null && (w.vmin === null || r.vmin < w.vmin)) w.vmin = r.vmin;
    if (r.vmax !== null && (w.vmax === null || r.vmax > w.vmax)) w.vmax = r.vmax;
  }
  return out;
}

/** A result's summary (all but its features) and its feature rows, as drift_results and drift_feature_results keep them. */
export function splitResult(body: Omit<DriftResult, 'id'>): {
  summary: string;
  features: StoredFeatureResult[];
} {
  const { features, ...rest } = body;
  return {
    summary: JSON.stringify(rest),
    features: features.map((f) => ({
      feature: f.feature,
      psi: f.psi,
      pvalueAdjusted: f.pvalue_adjusted,
      drifted: f.drifted,
      severity: f.severity,
      n: f.n,
      measures: JSON.stringify(f),
    })),
  };
}

/** Results stored before drift_feature_results existed, split in batches; how many were split. */
export async function backfillFeatureResults(deps: Pick<AppDeps, 'store'>, batch = 100): Promise<number> {
  let done = 0;
  for (;;) {
    const n = await deps.store.tx(async (tx) => {
      const rows = await tx.drift.unsplit(batch);
      for (const r of rows) await tx.drift.split(r.id, splitResult(parseResult(r)));
      return rows.length;
    });
    done += n;
    if (n < batch) return done;
  }
}

/** Evaluates one version's window [from, to) (bucket-aligned) against its baseline and stores the result. */
export async function evaluateAndStore(
  deps: Deps,
  model: string,
  modelVersion: string,
  kind: WindowKind,
  from: number,
  to: number,
): Promise<DriftResult | null> {
  const settings = driftSettingsFor(deps.config, model);
  return deps.store.tx(async (tx) => {
    const baseline = await baselineCache(deps.store).resolve(tx, model, modelVersion);
    if (!baseline) return null;
    const key = { model, modelVersion, bucketMs: settings.bucket, from, to };
    const window = sumWindow(await tx.aggregates.windowStored({ ...key, baselineId: baseline.id }));
    const { features, prediction } = profilesOf(baseline);
    const joint = await windowJoint(tx, deps.config, baseline, { ...key, baselineId: baseline.id }, settings);
    const evaluation = evaluateWindow(
      features,
      prediction,
      window,
      settings,
      await thresholdsFor(tx, deps.config, model, settings),
      joint?.pvalues,
    );
    const multivariate = joint ? joint.finish(evaluation.extra_adjusted, settings.alpha) : null;
    const perf = await tx.aggregates.windowOutcomes(key);
    const n = perf.records;
    const judged = [...evaluation.features, ...(evaluation.prediction ? [evaluation.prediction] : [])].filter(
      (r) => r.drifted !== null,
    );
    const activation = await tx.baselines.activation(model);
    const rebuilding =
      activation &&
      activation.baselineId === baseline.id &&
      (JSON.parse(activation.versions) as string[]).includes(modelVersion)
        ? { records_done: activation.done, records_total: activation.total }
        : null;
    const unknown: UnknownFeature[] = [];
    for (const [k, w] of window) {
      if (!k.startsWith('extra:')) continue;
      unknown.push({ feature: k.slice('extra:'.length), records: w.n, rate: n === 0 ? null : w.n / n });
    }
    unknown.sort((a, b) => b.records - a.records || a.feature.localeCompare(b.feature));
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
      unknown_features: unknown,
      multivariate,
      drifted_share: evaluation.drifted_share,
      drifted:
        judged.length === 0 && !multivariate?.flagged
          ? null
          : judged.some((r) => r.drifted) || multivariate?.flagged === true,
      performance: {
        labeled: perf.labeled,
        label_coverage: n === 0 ? null : perf.labeled / n,
        accuracy: perf.classified === 0 ? null : perf.correct / perf.classified,
        mae: perf.regressed === 0 ? null : perf.absErrSum / perf.regressed,
        rmse: perf.regressed === 0 ? null : Math.sqrt(perf.sqErrSum / perf.regressed),
      },
      rebuilding,
      evaluated_at: new Date(now).toISOString(),
    };
    const id = await tx.drift.upsertResult({
      model,
      modelVersion,
      baselineId: baseline.id,
      windowKind: kind,
      windowFrom: from,
      windowTo: to,
      n,
      drifted: body.drifted,
      driftedShare: evaluation.drifted_share,
      result: JSON.stringify(body),
      ...splitResult(body),
      evaluatedAt: now,
    });
    // The newest measures per feature, for GET /metrics (bounded: the baseline's features, at most
    // MAX_FEATURES_LATEST of them). An on-demand range is history, not the current state.
    if (kind !== 'range') {
      await tx.metrics.putFeatureLatest(
        model,
        modelVersion,
        { kind, to, evaluatedAt: now },
        evaluation.features.slice(0, MAX_FEATURES_LATEST).map((f) => ({
          feature: f.feature,
          psi: f.psi,
          ksStatistic: f.ks_statistic,
          ksPvalue: f.ks_pvalue,
          drifted: f.drifted,
        })),
      );
    }
    return { id, ...body };
  });
}

/** The rolling window that ends with the bucket containing `now`. */
export function rollingWindow(
  deps: Pick<AppDeps, 'config'>,
  model: string,
  now: number,
): { from: number; to: number } {
  const s = driftSettingsFor(deps.config, model);
  const to = bucketStart(now, s.bucket) + s.bucket;
  return { from: to - Math.max(s.bucket, Math.ceil(s.rollingWindow / s.bucket) * s.bucket), to };
}

/** 404 unless the model has sent records or has a baseline: "no data yet" and "no such model" differ. */
export async function requireModel(tx: Tx, model: string): Promise<void> {
  if ((await tx.models.list(model)).length > 0) return;
  if ((await tx.baselines.list(model)).length > 0) return;
  throw new ApiError('not_found', `model ${model} has sent no records and has no baseline`);
}

/** 404 unless some baseline of the model has the feature; the prediction is always judged. */
async function requireFeatureIn(tx: Tx, model: string, feature: string): Promise<void> {
  if (feature === 'prediction') return;
  if (!(await tx.baselines.featureNames(model)).includes(feature))
    throw new ApiError('not_found', `no baseline of model ${model} has a feature ${feature}`);
}

/** requireFeatureIn in a read of its own: the check driftSeries makes for `feature`, for a page that reads more. */
export async function requireFeature(
  deps: Pick<AppDeps, 'store'>,
  model: string,
  feature: string,
): Promise<void> {
  await deps.store.read((tx) => requireFeatureIn(tx, model, feature));
}

/** The model's newest evaluated window and when it was evaluated; null when none was. */
export async function lastRun(
  deps: Pick<AppDeps, 'store'>,
  model: string,
): Promise<{ windowTo: number; evaluatedAt: number } | null> {
  return deps.store.read((tx) => tx.drift.lastRun(model));
}

/**
 * On-demand evaluation of every model version with data in the window. Without a range: the rolling
 * window. A range is widened to whole buckets (aggregates are per bucket).
 */
export async function evaluateModel(
  deps: Deps,
  model: string,
  range: { from?: number; to?: number } = {},
): Promise<DriftResult[]> {
  const s = driftSettingsFor(deps.config, model);
  let kind: WindowKind = 'range';
  let from: number;
  let to: number;
  if (range.from === undefined && range.to === undefined) {
    ({ from, to } = rollingWindow(deps, model, deps.clock()));
    kind = 'rolling';
  } else {
    to =
      range.to === undefined
        ? bucketStart(deps.clock(), s.bucket) + s.bucket
        : Math.ceil(range.to / s.bucket) * s.bucket;
    from =
      range.from === undefined
        ? to - Math.max(s.bucket, Math.ceil(s.rollingWindow / s.bucket) * s.bucket)
        : bucketStart(range.from, s.bucket);
    if (from >= to)
      throw new ApiError('bad_request', 'from must be before to', {
        problems: [{ path: 'from', message: 'must be before to' }],
      });
  }
  const versions = await deps.store.read(async (tx) => {
    await requireModel(tx, model);
    return tx.aggregates.versionsWithData(model, s.bucket, from, to);
  });
  const results: DriftResult[] = [];
  for (const version of versions) {
    const r = await evaluateAndStore(deps, model, version, kind, from, to);
    if (r) results.push(r);
  }
  return results;
}

export interface DriftSeriesQuery {
  from?: number | undefined;
  to?: number | undefined;
  feature?: string | undefined;
  kind?: WindowKind | undefined;
  modelVersion?: string | undefined;
  limit: number;
}

/** Stored results, newest window first; `feature` keeps only that feature (404 when no baseline has it). */
export async function driftSeries(
  deps: Pick<AppDeps, 'store'>,
  model: string,
  q: DriftSeriesQuery,
): Promise<DriftResult[]> {
  return deps.store.read(async (tx) => {
    await requireModel(tx, model);
    if (q.feature !== undefined) await requireFeatureIn(tx, model, q.feature);
    const query = {
      model,
      from: q.from,
      to: q.to,
      kind: q.kind,
      modelVersion: q.modelVersion,
      limit: q.limit,
    };
    if (q.feature === undefined) return (await tx.drift.list(query)).map(parseResult);
    const feature = q.feature;
    // One feature: each window's summary and that feature's row, not every window's whole JSON.
    return (await tx.drift.listFeature(query, feature)).map((r) => parseFeatureRow(r, feature));
  });
}

/** One feature's verdict in a window: what a heatmap or trend of many windows draws. */
export type FeatureCell = Pick<ColumnResult, 'feature' | 'psi' | 'drifted'>;

/** A stored result with each feature as its cell only (the prediction keeps its whole column). */
export type ResultCells = Omit<DriftResult, 'features'> & { features: FeatureCell[] };

/**
 * Stored results, newest window first, as their summaries: `features` is empty, except for results stored
 * whole only (not split yet), which are read whole. windowCells adds the cells a page draws.
 */
export async function driftSummaries(
  deps: Pick<AppDeps, 'store'>,
  model: string,
  q: Omit<DriftSeriesQuery, 'feature'>,
): Promise<ResultCells[]> {
  return deps.store.read(async (tx) => {
    await requireModel(tx, model);
    const rows = await tx.drift.listSummaries({
      model,
      from: q.from,
      to: q.to,
      kind: q.kind,
      modelVersion: q.modelVersion,
      limit: q.limit,
    });
    return rows.map((r): ResultCells => {
      if (r.summary === null) return parseResult({ id: r.id, result: r.result ?? '{}' });
      const body = JSON.parse(r.summary) as Omit<DriftResult, 'id'>;
      body.features = [];
      return parseResult({ id: r.id, body });
    });
  });
}

/** Every feature of some window and its highest PSI over them (null when none has one). */
export interface FeatureMax {
  feature: string;
  psi: number | null;
}

/**
 * The cells of `results` (from driftSummaries) a page draws, from the narrow columns of drift_feature_results:
 * every feature of any window with its highest PSI, the newest result whole, then `pick` chooses the features
 * whose cells are added to each result. Results read whole keep all their features.
 */
export async function windowCells(
  deps: Pick<AppDeps, 'store'>,
  results: ResultCells[],
  pick: (features: FeatureMax[], latest: DriftResult | null) => readonly string[],
): Promise<{ features: FeatureMax[]; latest: DriftResult | null }> {
  return deps.store.read(async (tx) => {
    const ids = results.map((r) => r.id);
    const max = new Map<string, number | null>();
    const note = (feature: string, psi: number | null) => {
      const had = max.get(feature);
      if (had === undefined || (psi !== null && (had === null || psi > had))) max.set(feature, psi);
    };
    for (const m of await tx.drift.featureMaxima(ids)) note(m.feature, m.psi);
    for (const r of results) for (const f of r.features) note(f.feature, f.psi);
    const features = [...max].map(([feature, psi]) => ({ feature, psi }));
    const newest = results[0] ? await tx.drift.get(results[0].id) : undefined;
    const latest = newest ? parseResult(newest) : null;
    // Results read whole (not split yet) already hold every feature: cells only go to summaries.
    const summaries = results.filter((r) => r.features.length === 0);
    const byId = new Map(summaries.map((r) => [r.id, r]));
    const picked = pick(features, latest);
    const cells = summaries.length === 0 ? [] : await tx.drift.cells([...byId.keys()], picked);
    for (const c of cells) byId.get(c.id)?.features.push(c);
    return { features, latest };
  });
}

function parseFeatureRow(r: StoredResultRow, feature: string): DriftResult {
  if (r.summary === null) {
    const parsed = parseResult({ id: r.id, result: r.result ?? '{}' });
    parsed.features = parsed.features.filter((f) => f.feature === feature);
    return parsed;
  }
  const body = JSON.parse(r.summary) as Omit<DriftResult, 'id'>;
  body.features = r.measures ? [JSON.parse(r.measures) as ColumnResult] : [];
  return parseResult({ id: r.id, body });
}

function parseResult(
  r: { id: number; result: string } | { id: number; body: Omit<DriftResult, 'id'> },
): DriftResult {
  const body = 'body' in r ? r.body : (JSON.parse(r.result) as Omit<DriftResult, 'id'>);
  // Results stored before these fields existed.
  return {
    id: r.id,
    ...body,
    unknown_features: body.unknown_features ?? [],
    multivariate: body.multivariate ?? null,
    rebuilding: body.rebuilding ?? null,
  };
}

/** The most recently evaluated result of each model version. */
export async function latestDrift(deps: Pick<AppDeps, 'store'>, model: string): Promise<DriftResult[]> {
  return deps.store.read(async (tx) => {
    await requireModel(tx, model);
    return (await tx.drift.latest(model)).map(parseResult);
  });
}

export interface HistogramBin {
  label: string;
  /** Numeric bins: [lower, upper) with null for the open outer ends. */
  lower?: number | null;
  upper?: number | null;
  baseline: number;
  window: number;
}

export interface FeatureHistogram {
  model: string;
  model_version: string | null;
  baseline_id: number;
  feature: string;
  type: 'numeric' | 'categorical';
  window: { from: string; to: string };
  n: number;
  bins: HistogramBin[];
}

/** Baseline vs window proportions per PSI bin (numeric) or category (categorical), for charts. */
export async function featureHistogram(
  deps: Deps,
  model: string,
  feature: string,
  q: { from?: number; to?: number; modelVersion?: string },
): Promise<FeatureHistogram> {
  const s = driftSettingsFor(deps.config, model);
  return deps.store.read(async (tx) => {
    // Without a version, show the version that sent data most recently (records usually carry one).
    const modelVersion = q.modelVersion ?? (await tx.models.latestVersion(model));
    const roll = rollingWindow(deps, model, deps.clock());
    const from = q.from === undefined ? roll.from : bucketStart(q.from, s.bucket);
    const to = q.to === undefined ? roll.to : Math.ceil(q.to / s.bucket) * s.bucket;
    const h = await featureHistogramIn(deps, tx, model, feature, { modelVersion, from, to });
    if (h === 'no_baseline') throw new ApiError('not_found', `model ${model} has no active baseline`);
    if (typeof h === 'string') throw new ApiError('not_found', h);
    return h;
  });
}

/**
 * The histogram of one feature (or `prediction`) of a model version over the bucket-aligned window
 * [from, to), in the caller's transaction: the active baseline's PSI bins against the window's aggregate,
 * as drift evaluation sees them. 'no_baseline' without an active baseline; a message when the baseline
 * lacks the feature.
 */
export async function featureHistogramIn(
  deps: Pick<AppDeps, 'store' | 'config'>,
  tx: Tx,
  model: string,
  feature: string,
  q: { modelVersion: string; from: number; to: number },
): Promise<FeatureHistogram | 'no_baseline' | string> {
  const s = driftSettingsFor(deps.config, model);
  const { modelVersion, from, to } = q;
  const baseline = await baselineCache(deps.store).resolve(tx, model, modelVersion);
  if (!baseline) return 'no_baseline';
  const isPrediction = feature === 'prediction' && !baseline.features.has('prediction');
  const binner = isPrediction ? baseline.prediction : baseline.features.get(feature);
  if (!binner) return `baseline ${baseline.id} of model ${model} has no feature ${feature}`;
  const rows = await tx.aggregates.windowStored({
    model,
    modelVersion,
    baselineId: baseline.id,
    bucketMs: s.bucket,
    from,
    to,
  });
  const w = sumWindow(rows).get(
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
    const shares = {
      baseline: (ref[i] as number) / refTotal,
      window: curTotal === 0 ? 0 : (cur[i] as number) / curTotal,
    };
    if (profile.type === 'numeric') {
      const lower = i === 0 ? null : (profile.psiEdges[i - 1] as number);
      const upper = i === profile.psiEdges.length ? null : (profile.psiEdges[i] as number);
      bins.push({ label: `[${lower ?? '-inf'}, ${upper ?? 'inf'})`, lower, upper, ...shares });
    } else {
      const label =
        i < profile.categories.length
          ? (profile.categories[i] as string)
          : i === profile.categories.length
            ? '(other)'
            : '(unseen)';
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
