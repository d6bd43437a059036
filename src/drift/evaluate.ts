import type { DriftSettings } from '../config/index.js';
import { POSITION_STEPS } from '../profiles/binner.js';
import type { ColumnProfile, NumericProfile } from '../profiles/profile.js';
import {
  benjaminiHochberg,
  chiSquareContingency,
  jensenShannon,
  ksFromGrid,
  psi,
  psiNoiseThreshold,
  rebin,
  WASSERSTEIN_MIN_SCALE,
  wassersteinFromGrid,
} from '../stats/index.js';
import type { ColumnTallies } from '../store/index.js';

// Pure: turns a window's aggregates and the baseline's profiles into drift measures and verdicts.

/** A column's aggregate summed over the buckets of a window. */
export interface WindowColumn extends ColumnTallies {
  counts: Float64Array;
}

export type Severity = 'none' | 'warning' | 'critical';

export interface ColumnResult {
  feature: string;
  type: 'numeric' | 'categorical';
  /** Values usable for the distribution (present and of the baseline's type). */
  n: number;
  /** Records that carried the column at all, missing or mistyped ones included. */
  records: number;
  psi: number | null;
  ks_statistic: number | null;
  ks_pvalue: number | null;
  wasserstein_normed: number | null;
  chi2_statistic: number | null;
  chi2_pvalue: number | null;
  js: number | null;
  /** KS or χ² p-value after Benjamini–Hochberg adjustment across the run's features (raw for the prediction). */
  pvalue_adjusted: number | null;
  missing_rate: number | null;
  /** The baseline's own missing share, so data-quality checks compare against what training looked like. */
  baseline_missing_rate: number;
  type_mismatch_rate: number | null;
  unseen_rate: number | null;
  out_of_range_rate: number | null;
  /** The PSI threshold the verdict used (per-feature, possibly calibrated). */
  psi_warning: number | null;
  /** null when the window has fewer than minSamples values: measures are shown, no verdict is given. */
  drifted: boolean | null;
  severity: Severity | null;
}

function emptyResult(feature: string, type: ColumnResult['type']): ColumnResult {
  return {
    feature,
    type,
    n: 0,
    records: 0,
    psi: null,
    ks_statistic: null,
    ks_pvalue: null,
    wasserstein_normed: null,
    chi2_statistic: null,
    chi2_pvalue: null,
    js: null,
    pvalue_adjusted: null,
    missing_rate: null,
    baseline_missing_rate: 0,
    type_mismatch_rate: null,
    unseen_rate: null,
    out_of_range_rate: null,
    psi_warning: null,
    drifted: null,
    severity: null,
  };
}

/** Baseline counts in the same slot layout as a window's counts (categorical: top-K, pooled, unseen = 0). */
export function referenceCounts(profile: ColumnProfile): Float64Array {
  return profile.type === 'numeric'
    ? Float64Array.from(profile.gridCounts)
    : Float64Array.from([...profile.counts, 0]);
}

/**
 * A numeric profile without zero-width cells. Profiles stored before the builder stopped repeating an edge
 * (a maximum held by many rows got its next-up edge twice) have a cell [e, e) that no value can fall in, and
 * the statistics refuse edges that do not ascend strictly. Dropping such cells and their (always zero) counts
 * is exact. `keep` lists the cells kept, null when there is nothing to drop.
 */
interface GridView {
  profile: NumericProfile;
  keep: Int32Array | null;
}

const views = new WeakMap<NumericProfile, GridView>();

function gridView(profile: NumericProfile): GridView {
  let view = views.get(profile);
  if (view) return view;
  const edges = profile.gridEdges;
  let repeated = false;
  for (let i = 1; i < edges.length && !repeated; i++) repeated = edges[i] === edges[i - 1];
  if (!repeated) view = { profile, keep: null };
  else {
    const cells: number[] = [0];
    const kept: number[] = [edges[0] as number];
    for (let i = 1; i < edges.length; i++) {
      if (edges[i] === edges[i - 1]) continue;
      cells.push(i);
      kept.push(edges[i] as number);
    }
    cells.push(edges.length);
    const keep = Int32Array.from(cells);
    const pick = (a: readonly number[]) => Array.from(keep, (i) => a[i] as number);
    view = {
      keep,
      profile: {
        ...profile,
        gridEdges: kept,
        gridCounts: pick(profile.gridCounts),
        ...(profile.gridSums === undefined ? {} : { gridSums: pick(profile.gridSums) }),
      },
    };
  }
  views.set(profile, view);
  return view;
}

/** A window's count vector (cells, then position sums when kept) in the cells of gridView's profile. */
function viewCounts(profile: NumericProfile, keep: Int32Array, counts: Float64Array): Float64Array {
  const cells = profile.gridEdges.length + 1;
  const withSums = counts.length >= 2 * cells;
  const out = new Float64Array(withSums ? 2 * keep.length : keep.length);
  keep.forEach((cell, i) => {
    out[i] = counts[cell] as number;
    if (withSums) out[keep.length + i] = counts[cells + cell] as number;
  });
  return out;
}

/** Counts of the PSI bins: decile bins for numeric columns, category slots for categorical ones. */
export function psiBins(profile: ColumnProfile, counts: Float64Array): Float64Array {
  if (profile.type !== 'numeric') return counts;
  const view = gridView(profile);
  if (view.keep) return psiBins(view.profile, viewCounts(profile, view.keep, counts));
  return rebin(profile.gridEdges, cellCounts(profile, counts), profile.psiEdges);
}

/** The cell counts of a numeric window (its count vector may also carry position sums after them). */
function cellCounts(profile: NumericProfile, counts: Float64Array): Float64Array {
  return counts.subarray(0, profile.gridEdges.length + 1);
}

/** Per-cell sums of the window's values from its position sums (NaN where not kept: outer cells, old profiles). */
function windowSums(profile: NumericProfile, counts: Float64Array): Float64Array | undefined {
  const edges = profile.gridEdges;
  const cells = edges.length + 1;
  if (profile.gridSums === undefined || counts.length < 2 * cells) return undefined;
  const out = new Float64Array(cells).fill(Number.NaN);
  for (let i = 1; i < cells - 1; i++) {
    const left = edges[i - 1] as number;
    const width = (edges[i] as number) - left;
    out[i] = (counts[i] as number) * left + (width * (counts[cells + i] as number)) / POSITION_STEPS;
  }
  return out;
}

export function measureColumn(
  name: string,
  stored: ColumnProfile,
  window: WindowColumn | undefined,
): ColumnResult {
  let profile = stored;
  let w = window;
  if (profile.type === 'numeric') {
    const view = gridView(profile);
    if (view.keep && w) w = { ...w, counts: viewCounts(profile, view.keep, w.counts) };
    profile = view.profile;
  }
  const result = emptyResult(name, profile.type);
  result.baseline_missing_rate = profile.missing / Math.max(1, profile.count + profile.missing);
  if (!w) return result;
  const total = w.n + w.missing + w.typeMismatch;
  result.n = w.n;
  result.records = total;
  if (total > 0) {
    result.missing_rate = w.missing / total;
    result.type_mismatch_rate = w.typeMismatch / total;
  }
  if (w.n === 0) return result;
  const ref = referenceCounts(profile);
  result.psi = psi(psiBins(profile, ref), psiBins(profile, w.counts));
  if (profile.type === 'numeric') {
    result.out_of_range_rate = w.outOfRange / w.n;
    const onEdges = profile.exact && w.offEdge === 0;
    const cur = cellCounts(profile, w.counts);
    const grid = { edges: profile.gridEdges, refCounts: ref, curCounts: cur, onEdges };
    const curSums = windowSums(profile, w.counts);
    const sums = curSums && profile.gridSums ? { refSums: profile.gridSums, curSums } : {};
    // Positions are kept to 1/255 of the width; a value just off the left edge counts as 1 (binner.ts).
    // The verdict uses the p-value at the grid statistic only; the bound's p-value would double the cost.
    const ks = ksFromGrid({ ...grid, ...sums, curSumError: 1 / POSITION_STEPS }, { bounds: false });
    result.ks_statistic = ks.statistic;
    result.ks_pvalue = ks.pvalue;
    const min = Math.min(profile.min, w.vmin ?? profile.min, profile.gridEdges[0] ?? profile.min);
    const max = Math.max(
      profile.max,
      w.vmax ?? profile.max,
      profile.gridEdges[profile.gridEdges.length - 1] ?? profile.max,
    );
    const ws = wassersteinFromGrid({ ...grid, min, max, ...sums });
    result.wasserstein_normed = ws.distance / Math.max(profile.std, WASSERSTEIN_MIN_SCALE);
  } else {
    result.unseen_rate = w.unseen / w.n;
    // The χ² test compares the categories known from training (top-K and pooled). Values never seen in
    // training have no expected share to test against; unseen_rate and data-quality alerts cover them,
    // so a handful of new categories in a window cannot make the test significant on its own.
    const known = w.counts.length - 1;
    const chi =
      (w.counts[known] ?? 0) === w.n
        ? { statistic: 0, pvalue: 1 }
        : chiSquareContingency(ref.subarray(0, known), w.counts.subarray(0, known));
    result.chi2_statistic = chi.statistic;
    result.chi2_pvalue = chi.pvalue;
    result.js = jensenShannon(ref, w.counts);
  }
  return result;
}

export interface Verdict {
  psiWarning: number;
  psiCritical: number;
  alpha: number;
}

function verdict(r: ColumnResult, minSamples: number, t: Verdict): void {
  r.psi_warning = t.psiWarning;
  if (r.n < minSamples || r.psi === null) return;
  const p = r.pvalue_adjusted;
  // Effect size and significance together: big windows make tiny shifts significant, PSI keeps them quiet.
  r.drifted = r.psi >= t.psiWarning && p !== null && p < t.alpha;
  r.severity = !r.drifted ? 'none' : r.psi >= Math.max(t.psiCritical, t.psiWarning) ? 'critical' : 'warning';
}

/** With calibration on, the warning threshold rises to what sampling noise alone produces at this window size. */
function calibrate(
  r: ColumnResult,
  profile: ColumnProfile | undefined,
  t: Verdict,
  settings: DriftSettings,
): Verdict {
  if (!settings.calibrated || !profile || r.n === 0) return t;
  const noise = psiNoiseThreshold(psiBins(profile, referenceCounts(profile)), r.n);
  return noise > t.psiWarning ? { ...t, psiWarning: noise } : t;
}

export interface WindowEvaluation {
  features: ColumnResult[];
  prediction: ColumnResult | null;
  drifted_share: number | null;
  /** `extraPvalues` after the shared Benjamini–Hochberg step, in their order. */
  extra_adjusted: number[];
}

/**
 * `extraPvalues` (the joint measures' correlation pairs) join the features' KS/χ² p-values in one
 * Benjamini–Hochberg step, so adding pairs to a run is paid for by every test in it.
 */
export function evaluateWindow(
  features: Map<string, ColumnProfile>,
  prediction: ColumnProfile | null,
  window: Map<string, WindowColumn>,
  settings: DriftSettings,
  thresholds: (feature: string) => Verdict = () => settings,
  extraPvalues: readonly number[] = [],
): WindowEvaluation {
  const results = [...features].map(([name, profile]) =>
    measureColumn(name, profile, window.get(`feature:${name}`)),
  );
  const tested = results.filter((r) => (r.ks_pvalue ?? r.chi2_pvalue) !== null);
  let extraAdjusted: number[] = [];
  if (tested.length + extraPvalues.length > 0) {
    const adjusted = benjaminiHochberg([
      ...tested.map((r) => (r.ks_pvalue ?? r.chi2_pvalue) as number),
      ...extraPvalues,
    ]);
    tested.forEach((r, i) => {
      r.pvalue_adjusted = adjusted[i] ?? null;
    });
    extraAdjusted = Array.from(adjusted).slice(tested.length);
  }
  for (const r of results)
    verdict(r, settings.minSamples, calibrate(r, features.get(r.feature), thresholds(r.feature), settings));
  let predictionResult: ColumnResult | null = null;
  if (prediction) {
    predictionResult = measureColumn('prediction', prediction, window.get('prediction:prediction'));
    predictionResult.pvalue_adjusted = predictionResult.ks_pvalue ?? predictionResult.chi2_pvalue;
    verdict(
      predictionResult,
      settings.minSamples,
      calibrate(predictionResult, prediction, thresholds('prediction'), settings),
    );
  }
  const judged = results.filter((r) => r.drifted !== null);
  return {
    features: results,
    prediction: predictionResult,
    drifted_share: judged.length === 0 ? null : judged.filter((r) => r.drifted).length / judged.length,
    extra_adjusted: extraAdjusted,
  };
}
