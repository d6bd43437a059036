/**
 * Performance without labels: confidence-based performance estimation (CBPE, as NannyML's). With calibrated
 * probabilities p̂, a row predicted positive is a true positive with probability p̂, so the expected confusion
 * matrix is a sum of p̂ — which mergeable per-bucket sums keep exactly.
 *
 * Accumulators are plain objects of number arrays (stored as float64 vectors) that add cell by cell, so a
 * window's accumulator is the sum of its buckets' and every estimate is the one computed from the raw rows.
 */
import { StatsInputError } from './validate.js';

/** Two-sided 95% normal quantile. */
const Z95 = 1.959963984540054;

/**
 * Binary scores: the `bins` equal-width bins on [0, 1], split at the threshold when it is not already an
 * edge, so "score ≥ threshold" is a set of whole cells. Cell c holds the rows whose score s has
 * (number of edges ≤ s) = c, the `histogram` convention (a score of exactly 1 is in the last cell).
 */
export interface BinaryPerformanceAccumulator {
  kind: 'binary';
  /** A row is predicted positive when its score is ≥ threshold; fixed when the accumulator is created. */
  threshold: number;
  bins: number;
  /** Rows per cell. */
  count: number[];
  /** Σ p̂ per cell. */
  sumP: number[];
  /** Σ p̂² per cell: gives Σ p̂(1 − p̂) for the sampling bands and the spread that bounds the AUC error. */
  sumP2: number[];
}

/**
 * K classes, predicted class i (argmax unless given). Matrices are K×K, row-major: [i·K + j] is the sum over
 * rows predicted i of p̂_j (sumP) or p̂_j² (sumP2).
 */
export interface MulticlassPerformanceAccumulator {
  kind: 'multiclass';
  classes: number;
  /** Rows predicted as each class. */
  count: number[];
  sumP: number[];
  sumP2: number[];
  /**
   * What the one-vs-rest expected AUC needs, when kept: per class j, a binary accumulator (threshold 0, so
   * `bins` equal-width cells) of every row's p̂_j binned by its raw p_j, laid class after class (K·bins).
   */
  auc?: { bins: number; count: number[]; sumP: number[]; sumP2: number[] };
}

export type PerformanceAccumulator = BinaryPerformanceAccumulator | MulticlassPerformanceAccumulator;

/** A point estimate with its 95% sampling band for the realized metric; NaN where the metric is undefined. */
export interface Estimate {
  value: number;
  /** Standard deviation of the realized metric given the rows' probabilities (normal / delta method). */
  sd: number;
  lower: number;
  upper: number;
}

export interface ClassEstimates {
  precision: Estimate;
  recall: Estimate;
  f1: Estimate;
}

export interface BinaryPerformanceEstimate extends ClassEstimates {
  rows: number;
  /** Expected confusion matrix. */
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  accuracy: Estimate;
  /** Expected ROC AUC; the band is Hanley–McNeil widened by `aucErrorBound` on each side. */
  auc: Estimate;
  /** Bound on |estimated − exact expected AUC| from treating pairs within a cell as ties. */
  aucErrorBound: number;
}

export interface MulticlassPerformanceEstimate {
  rows: number;
  /** Expected confusion matrix, row-major [predicted·K + true]. */
  confusion: number[];
  accuracy: Estimate;
  perClass: ClassEstimates[];
  /** Unweighted means over classes; an undefined class metric counts as 0 (scikit-learn's zero_division=0). */
  macro: ClassEstimates;
  /** Expected one-vs-rest AUC per class (NaN without `auc` sums, or where undefined). */
  aucPerClass: Estimate[];
  /** Their unweighted mean over the classes where defined; the band widened by `aucErrorBound`. */
  auc: Estimate;
  /** Mean of the classes' within-cell bounds: bounds |macro estimate − exact expected macro AUC|. */
  aucErrorBound: number;
}

interface Layout {
  /** Index of the first cell at or above the threshold. */
  firstPositive: number;
  /** True when the threshold is an extra edge (not one of k/bins). */
  extra: boolean;
  cells: number;
}

function layout(threshold: number, bins: number, fn: string): Layout {
  if (!Number.isInteger(bins) || bins < 1 || bins > 100000) {
    throw new StatsInputError(`${fn}: bins must be an integer from 1 to 100000, got ${String(bins)}`);
  }
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new StatsInputError(`${fn}: threshold must be a number in [0, 1], got ${String(threshold)}`);
  }
  const k = Math.round(threshold * bins);
  const onGrid = k >= 1 && k <= bins - 1 && k / bins === threshold;
  const extra = threshold > 0 && !onGrid;
  const base = { extra, cells: bins + (extra ? 1 : 0), firstPositive: 0 };
  base.firstPositive = threshold === 0 ? 0 : cellOf(base, threshold, threshold, bins);
  return base;
}

/** Number of edges ≤ s, with the grid edges k/bins (k = 1…bins−1) plus the threshold when extra. */
function cellOf(l: Pick<Layout, 'extra'>, threshold: number, s: number, bins: number): number {
  // floor(s·bins) can be one off from comparing with the doubles k/bins; settle it against them.
  let k = Math.min(bins - 1, Math.max(0, Math.floor(s * bins)));
  while (k < bins - 1 && (k + 1) / bins <= s) k++;
  while (k > 0 && k / bins > s) k--;
  return k + (l.extra && s >= threshold ? 1 : 0);
}

const layouts = new Map<string, Layout>();
function cachedLayout(threshold: number, bins: number, fn: string): Layout {
  const key = `${bins}:${threshold}`;
  let l = layouts.get(key);
  if (!l) {
    l = layout(threshold, bins, fn);
    if (layouts.size > 1000) layouts.clear();
    layouts.set(key, l);
  }
  return l;
}

/** The interior cell edges of a binary accumulator (ascending): k/bins, plus the threshold if not among them. */
export function binaryCellEdges(threshold = 0.5, bins = 100): number[] {
  const l = layout(threshold, bins, 'binaryCellEdges');
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) edges.push(k / bins);
  if (l.extra) {
    edges.push(threshold);
    edges.sort((a, b) => a - b);
  }
  return edges;
}

export function emptyBinary(
  options: { threshold?: number; bins?: number } = {},
): BinaryPerformanceAccumulator {
  const threshold = options.threshold ?? 0.5;
  const bins = options.bins ?? 100;
  const { cells } = layout(threshold, bins, 'emptyBinary');
  const zeros = () => new Array<number>(cells).fill(0);
  return { kind: 'binary', threshold, bins, count: zeros(), sumP: zeros(), sumP2: zeros() };
}

function unitInterval(v: number, name: string, fn: string): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
    throw new StatsInputError(`${fn}: ${name} must be a number in [0, 1], got ${String(v)}`);
  }
}

/**
 * Adds one row: binned by its `score` (what the threshold applies to) with `probability` = the calibrated
 * P(label = 1) (the score itself when the model is calibrated or no calibration was chosen).
 */
export function addBinary(acc: BinaryPerformanceAccumulator, score: number, probability = score): void {
  unitInterval(score, 'score', 'addBinary');
  unitInterval(probability, 'probability', 'addBinary');
  const l = cachedLayout(acc.threshold, acc.bins, 'addBinary');
  const c = cellOf(l, acc.threshold, score, acc.bins);
  acc.count[c] = (acc.count[c] as number) + 1;
  acc.sumP[c] = (acc.sumP[c] as number) + probability;
  acc.sumP2[c] = (acc.sumP2[c] as number) + probability * probability;
}

/** `aucBins`: keep per-class score cells for the one-vs-rest AUC (K·aucBins cells of three sums). */
export function emptyMulticlass(
  classes: number,
  options: { aucBins?: number } = {},
): MulticlassPerformanceAccumulator {
  if (!Number.isInteger(classes) || classes < 2 || classes > 1000) {
    throw new StatsInputError(
      `emptyMulticlass: classes must be an integer from 2 to 1000, got ${String(classes)}`,
    );
  }
  const zeros = (n: number) => new Array<number>(n).fill(0);
  const acc: MulticlassPerformanceAccumulator = {
    kind: 'multiclass',
    classes,
    count: zeros(classes),
    sumP: zeros(classes * classes),
    sumP2: zeros(classes * classes),
  };
  if (options.aucBins !== undefined) {
    const cells = classes * layout(0, options.aucBins, 'emptyMulticlass').cells;
    acc.auc = { bins: options.aucBins, count: zeros(cells), sumP: zeros(cells), sumP2: zeros(cells) };
  }
  return acc;
}

/** The cell of a score in the per-class AUC cells of `bins` (threshold 0: the plain equal-width grid). */
export function scoreCell(s: number, bins: number): number {
  return cellOf({ extra: false }, 0, s, bins);
}

/** Largest probability's index, the first on ties. */
export function argmax(probs: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < probs.length; j++) if ((probs[j] as number) > (probs[best] as number)) best = j;
  return best;
}

/**
 * Adds one row of class probabilities. They must be non-negative and sum to 1 within 1e-3 (float32 outputs
 * of many classes drift by more than 1e-6); they are rescaled to sum to exactly 1. `scores` (default
 * `probs`) are the raw probabilities the per-class AUC cells bin by, as `addBinary`'s score.
 */
export function addMulticlass(
  acc: MulticlassPerformanceAccumulator,
  probs: ArrayLike<number>,
  predicted?: number,
  scores: ArrayLike<number> = probs,
): void {
  const K = acc.classes;
  if (probs?.length !== K) {
    throw new StatsInputError(
      `addMulticlass: probs must hold ${K} probabilities, got ${String(probs?.length)}`,
    );
  }
  let total = 0;
  for (let j = 0; j < K; j++) {
    const v = probs[j] as number;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
      throw new StatsInputError(`addMulticlass: probs[${j}] must be a number in [0, 1], got ${String(v)}`);
    }
    total += v;
  }
  if (Math.abs(total - 1) > 1e-3) {
    throw new StatsInputError(`addMulticlass: probs must sum to 1, got ${total}`);
  }
  const i = predicted ?? argmax(probs);
  if (!Number.isInteger(i) || i < 0 || i >= K) {
    throw new StatsInputError(`addMulticlass: predicted must be a class index from 0 to ${K - 1}, got ${i}`);
  }
  const auc = acc.auc;
  if (auc) {
    if (scores?.length !== K) {
      throw new StatsInputError(
        `addMulticlass: scores must hold ${K} probabilities, got ${String(scores?.length)}`,
      );
    }
    for (let j = 0; j < K; j++) unitInterval(scores[j] as number, `scores[${j}]`, 'addMulticlass');
  }
  acc.count[i] = (acc.count[i] as number) + 1;
  for (let j = 0; j < K; j++) {
    const p = (probs[j] as number) / total;
    acc.sumP[i * K + j] = (acc.sumP[i * K + j] as number) + p;
    acc.sumP2[i * K + j] = (acc.sumP2[i * K + j] as number) + p * p;
    if (auc) {
      const c = j * auc.bins + scoreCell(scores[j] as number, auc.bins);
      auc.count[c] = (auc.count[c] as number) + 1;
      auc.sumP[c] = (auc.sumP[c] as number) + p;
      auc.sumP2[c] = (auc.sumP2[c] as number) + p * p;
    }
  }
}

function addArrays(a: number[], b: number[]): number[] {
  return a.map((v, i) => v + (b[i] as number));
}

function checkShape(acc: PerformanceAccumulator, name: string): void {
  const cells =
    acc.kind === 'binary' ? layout(acc.threshold, acc.bins, 'merge').cells : acc.classes * acc.classes;
  const rows = acc.kind === 'binary' ? cells : acc.classes;
  if (acc.count?.length !== rows || acc.sumP?.length !== cells || acc.sumP2?.length !== cells) {
    throw new StatsInputError(`merge: ${name} has vectors of the wrong length for its ${acc.kind} layout`);
  }
  if (acc.kind === 'multiclass' && acc.auc) {
    const n = acc.classes * layout(0, acc.auc.bins, 'merge').cells;
    if (acc.auc.count?.length !== n || acc.auc.sumP?.length !== n || acc.auc.sumP2?.length !== n)
      throw new StatsInputError(`merge: ${name} has AUC cells of the wrong length for its layout`);
  }
}

/** The accumulator of the union of both rows' sets; both must share kind, threshold and bins, or classes. */
export function merge<T extends PerformanceAccumulator>(a: T, b: T): T {
  checkShape(a, 'a');
  checkShape(b, 'b');
  if (a.kind !== b.kind)
    throw new StatsInputError(`merge: cannot merge a ${a.kind} with a ${b.kind} accumulator`);
  if (a.kind === 'binary' && b.kind === 'binary' && (a.threshold !== b.threshold || a.bins !== b.bins)) {
    throw new StatsInputError(
      `merge: thresholds and bins differ (${a.threshold}/${a.bins} vs ${b.threshold}/${b.bins})`,
    );
  }
  if (a.kind === 'multiclass' && b.kind === 'multiclass') {
    if (a.classes !== b.classes)
      throw new StatsInputError(`merge: class counts differ (${a.classes} vs ${b.classes})`);
    if (a.auc?.bins !== b.auc?.bins)
      throw new StatsInputError(
        `merge: AUC cells differ (${a.auc?.bins ?? 'none'} vs ${b.auc?.bins ?? 'none'} bins)`,
      );
  }
  const out = {
    ...a,
    count: addArrays(a.count, b.count),
    sumP: addArrays(a.sumP, b.sumP),
    sumP2: addArrays(a.sumP2, b.sumP2),
  };
  if (out.kind === 'multiclass' && out.auc && b.kind === 'multiclass' && b.auc) {
    out.auc = {
      bins: out.auc.bins,
      count: addArrays(out.auc.count, b.auc.count),
      sumP: addArrays(out.auc.sumP, b.auc.sumP),
      sumP2: addArrays(out.auc.sumP2, b.auc.sumP2),
    };
  }
  return out;
}

function band(value: number, variance: number, widen = 0): Estimate {
  const sd = Math.sqrt(Math.max(0, variance));
  if (!Number.isFinite(value))
    return { value: Number.NaN, sd: Number.NaN, lower: Number.NaN, upper: Number.NaN };
  return {
    value,
    sd,
    lower: Math.max(0, value - Z95 * sd - widen),
    upper: Math.min(1, value + Z95 * sd + widen),
  };
}

/**
 * Precision, recall and F1 of one class from the expected counts and the variances of TP (rows predicted
 * positive, independent Bernoulli(p̂)) and FN (rows predicted negative). Precision's denominator (rows
 * predicted positive) is known, so its variance is exact; recall and F1 use the delta method (TP and FN
 * come from disjoint rows, so they are independent).
 */
function classEstimates(predicted: number, tp: number, fn: number, vTp: number, vFn: number): ClassEstimates {
  const precision = predicted > 0 ? band(tp / predicted, vTp / (predicted * predicted)) : band(Number.NaN, 0);
  const actual = tp + fn;
  const recall =
    actual > 0 ? band(tp / actual, (fn * fn * vTp + tp * tp * vFn) / actual ** 4) : band(Number.NaN, 0);
  // F1 = 2TP / (predicted + TP + FN).
  const den = predicted + tp + fn;
  let f1: Estimate;
  if (den > 0) {
    const dTp = (2 * (predicted + fn)) / (den * den);
    const dFn = (-2 * tp) / (den * den);
    f1 = band((2 * tp) / den, dTp * dTp * vTp + dFn * dFn * vFn);
  } else {
    f1 = band(Number.NaN, 0);
  }
  return { precision, recall, f1 };
}

function rowsOf(acc: PerformanceAccumulator, fn: string): number {
  const rows = acc.count.reduce((s, v) => s + v, 0);
  if (!(rows > 0)) throw new StatsInputError(`${fn}: the accumulator holds no rows`);
  return rows;
}

/**
 * Expected metrics of a binary accumulator, each with a 95% band for the metric the labels will realize.
 * AUC: the exact expected AUC is Σ_{i≠j} p̂_i(1−p̂_j)·([s_i > s_j] + ½[s_i = s_j]) / Σ_{i≠j} p̂_i(1−p̂_j).
 * Pairs in different cells are ordered by their cells, so only pairs within a cell are approximated (as
 * ties). Each such pair is off by ½|p̂_i − p̂_j|, and by Cauchy–Schwarz Σ_pairs |p̂_i − p̂_j| ≤
 * √(C(n,2)·(n·Σp̂² − (Σp̂)²)) per cell, which is `aucErrorBound` once divided by the denominator.
 */
export function estimateBinary(acc: BinaryPerformanceAccumulator): BinaryPerformanceEstimate {
  const rows = rowsOf(acc, 'estimateBinary');
  const l = layout(acc.threshold, acc.bins, 'estimateBinary');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let vPos = 0;
  let vNeg = 0;
  let predictedPositive = 0;
  let sumP = 0;
  let sumVar = 0;
  let negBelow = 0;
  let ordered = 0;
  let within = 0;
  let spread = 0;
  for (let c = 0; c < l.cells; c++) {
    const n = acc.count[c] as number;
    if (n === 0) continue;
    const p = acc.sumP[c] as number;
    const q = n - p;
    const v = p - (acc.sumP2[c] as number);
    if (c >= l.firstPositive) {
      tp += p;
      fp += q;
      vPos += v;
      predictedPositive += n;
    } else {
      fn += p;
      tn += q;
      vNeg += v;
    }
    sumP += p;
    sumVar += v;
    ordered += p * negBelow;
    within += p * q - v;
    negBelow += q;
    const pairs = (n * (n - 1)) / 2;
    spread += Math.sqrt(pairs * Math.max(0, n * (acc.sumP2[c] as number) - p * p));
  }
  const accuracy = band((tp + tn) / rows, (vPos + vNeg) / (rows * rows));
  const cls = classEstimates(predictedPositive, tp, fn, vPos, vNeg);
  const den = sumP * (rows - sumP) - sumVar;
  let auc: Estimate;
  let aucErrorBound = Number.NaN;
  if (den > 0) {
    const a = (ordered + within / 2) / den;
    aucErrorBound = spread / 2 / den;
    // Hanley–McNeil with the expected class sizes.
    const n1 = sumP;
    const n0 = rows - sumP;
    const q1 = a / (2 - a);
    const q2 = (2 * a * a) / (1 + a);
    const variance = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0);
    auc = band(a, variance, aucErrorBound);
  } else {
    auc = band(Number.NaN, 0);
  }
  return { rows, tp, fp, fn, tn, accuracy, ...cls, auc, aucErrorBound };
}

function macroOf(per: ClassEstimates[], key: keyof ClassEstimates): Estimate {
  const K = per.length;
  let value = 0;
  let sd = 0;
  for (const c of per) {
    const e = c[key];
    if (Number.isFinite(e.value)) {
      value += e.value;
      sd += e.sd;
    }
  }
  // The class metrics are correlated; the mean of their standard deviations bounds the macro's (Cauchy–Schwarz).
  return band(value / K, (sd / K) ** 2);
}

/** Expected metrics of a K-class accumulator: accuracy, per-class and macro precision, recall and F1. */
export function estimateMulticlass(acc: MulticlassPerformanceAccumulator): MulticlassPerformanceEstimate {
  const rows = rowsOf(acc, 'estimateMulticlass');
  const K = acc.classes;
  const S = (i: number, j: number) => acc.sumP[i * K + j] as number;
  const V = (i: number, j: number) => S(i, j) - (acc.sumP2[i * K + j] as number);
  let correct = 0;
  let vCorrect = 0;
  const perClass: ClassEstimates[] = [];
  for (let j = 0; j < K; j++) {
    correct += S(j, j);
    vCorrect += V(j, j);
    let fn = 0;
    let vFn = 0;
    for (let i = 0; i < K; i++) {
      if (i === j) continue;
      fn += S(i, j);
      vFn += V(i, j);
    }
    perClass.push(classEstimates(acc.count[j] as number, S(j, j), fn, V(j, j), vFn));
  }
  const aucPerClass: Estimate[] = [];
  // Sums over the classes whose AUC is defined: value, sd and within-cell bound.
  let defined = 0;
  let sumAuc = 0;
  let sumSd = 0;
  let sumBound = 0;
  const auc = acc.auc;
  for (let j = 0; j < K; j++) {
    if (!auc) {
      aucPerClass.push(band(Number.NaN, 0));
      continue;
    }
    // Class j against the rest is a binary problem: score p_j, positive with probability p̂_j.
    const at = (v: number[]) => v.slice(j * auc.bins, (j + 1) * auc.bins);
    const e = estimateBinary({
      kind: 'binary',
      threshold: 0,
      bins: auc.bins,
      count: at(auc.count),
      sumP: at(auc.sumP),
      sumP2: at(auc.sumP2),
    });
    aucPerClass.push(e.auc);
    if (Number.isFinite(e.auc.value)) {
      defined++;
      sumAuc += e.auc.value;
      sumSd += e.auc.sd;
      sumBound += e.aucErrorBound;
    }
  }
  const aucErrorBound = defined > 0 ? sumBound / defined : Number.NaN;
  // The classes' AUCs are correlated: the mean of their sds bounds the macro's, as for the other metrics.
  const macroAuc =
    defined > 0 ? band(sumAuc / defined, (sumSd / defined) ** 2, aucErrorBound) : band(Number.NaN, 0);
  return {
    rows,
    confusion: acc.sumP.slice(),
    accuracy: band(correct / rows, vCorrect / (rows * rows)),
    perClass,
    macro: {
      precision: macroOf(perClass, 'precision'),
      recall: macroOf(perClass, 'recall'),
      f1: macroOf(perClass, 'f1'),
    },
    aucPerClass,
    auc: macroAuc,
    aucErrorBound,
  };
}
