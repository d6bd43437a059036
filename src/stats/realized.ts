/**
 * Realized performance from the labels that have arrived, kept as mergeable counts beside the estimate's
 * sums (src/stats/performance.ts) and in the same cells: a confusion matrix, and per score cell the labels'
 * positives and negatives, which is what ROC AUC needs. Counts are whole numbers (exact in float64), so a
 * window's accumulator is the sum of its buckets' and adding and removing a label never leaves residue.
 */
import { binaryCellEdges, scoreCell } from './performance.js';
import { StatsInputError } from './validate.js';

/** Binary scores, in the cells of the estimate's accumulator of the same threshold and bins. */
export interface RealizedBinaryAccumulator {
  kind: 'binary';
  threshold: number;
  bins: number;
  /** Labels 1 per cell. */
  pos: number[];
  /** Labels 0 per cell. */
  neg: number[];
}

/**
 * K classes: the confusion matrix [predicted·(K+1) + true], the last column counting labels that are none of
 * the classes (wrong whatever was predicted). With `auc`: per class j, labels j (`pos`) and not j (`neg`)
 * per cell of the raw p_j, laid class after class (K·bins).
 */
export interface RealizedMulticlassAccumulator {
  kind: 'multiclass';
  classes: number;
  confusion: number[];
  auc?: { bins: number; pos: number[]; neg: number[] };
}

export type RealizedAccumulator = RealizedBinaryAccumulator | RealizedMulticlassAccumulator;

export interface RealizedClass {
  precision: number;
  recall: number;
  f1: number;
  /** Labels of this class. */
  support: number;
}

/** Realized metrics; NaN where a metric is undefined (no row predicted a class, for its precision). */
export interface RealizedPerformance {
  rows: number;
  /** Row-major [predicted·C + true]; binary: classes 0 and 1, K classes: K+1 columns (the last: other). */
  confusion: number[];
  accuracy: number;
  /** Binary: class 0 then class 1; K classes: in class order. */
  perClass: RealizedClass[];
  /**
   * Unweighted means over all classes, an undefined metric counting 0: scikit-learn's
   * `average='macro', labels=<all classes>, zero_division=0`, the same average as the estimate's.
   */
  macro: { precision: number; recall: number; f1: number };
  /** Binary: the AUC; K classes: the mean one-vs-rest AUC over classes with labels of both kinds. */
  auc: number;
  /** One-vs-rest AUC per class (K classes; NaN where undefined or not kept). */
  aucPerClass: number[];
  /**
   * Bound on |auc − the AUC of the raw scores|: pairs within one cell are counted as ties (half), so each
   * is off by at most ½ (K classes: the mean of the classes' bounds).
   */
  aucErrorBound: number;
}

const zeros = (n: number) => new Array<number>(n).fill(0);

export function emptyRealizedBinary(
  options: { threshold?: number; bins?: number } = {},
): RealizedBinaryAccumulator {
  const threshold = options.threshold ?? 0.5;
  const bins = options.bins ?? 100;
  const cells = binaryCellEdges(threshold, bins).length + 1;
  return { kind: 'binary', threshold, bins, pos: zeros(cells), neg: zeros(cells) };
}

export function emptyRealizedMulticlass(
  classes: number,
  options: { aucBins?: number } = {},
): RealizedMulticlassAccumulator {
  if (!Number.isInteger(classes) || classes < 2 || classes > 1000) {
    throw new StatsInputError(
      `emptyRealizedMulticlass: classes must be an integer from 2 to 1000, got ${String(classes)}`,
    );
  }
  const acc: RealizedMulticlassAccumulator = {
    kind: 'multiclass',
    classes,
    confusion: zeros(classes * (classes + 1)),
  };
  if (options.aucBins !== undefined) {
    // Validates the bins; the per-class cells are the plain equal-width grid (scoreCell).
    binaryCellEdges(0, options.aucBins);
    const cells = classes * options.aucBins;
    acc.auc = { bins: options.aucBins, pos: zeros(cells), neg: zeros(cells) };
  }
  return acc;
}

function unit(v: number, name: string, fn: string): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1))
    throw new StatsInputError(`${fn}: ${name} must be a number in [0, 1], got ${String(v)}`);
}

/** The cell a score falls in: the number of cell edges ≤ score, as the estimate's accumulator. */
function binaryCell(acc: RealizedBinaryAccumulator, score: number): number {
  const edges = edgesOf(acc.threshold, acc.bins);
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((edges[mid] as number) <= score) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const edgeCache = new Map<string, number[]>();
function edgesOf(threshold: number, bins: number): number[] {
  const key = `${bins}:${threshold}`;
  let e = edgeCache.get(key);
  if (!e) {
    e = binaryCellEdges(threshold, bins);
    if (edgeCache.size > 1000) edgeCache.clear();
    edgeCache.set(key, e);
  }
  return e;
}

/** Adds (`sign` 1) or removes (−1) one labelled row: its raw score and its 0/1 label. */
export function addRealizedBinary(
  acc: RealizedBinaryAccumulator,
  score: number,
  label: 0 | 1,
  sign: 1 | -1 = 1,
): void {
  unit(score, 'score', 'addRealizedBinary');
  if (label !== 0 && label !== 1)
    throw new StatsInputError(`addRealizedBinary: label must be 0 or 1, got ${String(label)}`);
  const c = binaryCell(acc, score);
  const v = label === 1 ? acc.pos : acc.neg;
  v[c] = (v[c] as number) + sign;
}

/**
 * Adds (`sign` 1) or removes (−1) one labelled row: the class it was predicted as, its label's class index
 * (−1: none of the classes) and, when AUC cells are kept, its raw class probabilities.
 */
export function addRealizedMulticlass(
  acc: RealizedMulticlassAccumulator,
  predicted: number,
  label: number,
  scores?: ArrayLike<number>,
  sign: 1 | -1 = 1,
): void {
  const K = acc.classes;
  if (!Number.isInteger(predicted) || predicted < 0 || predicted >= K)
    throw new StatsInputError(
      `addRealizedMulticlass: predicted must be a class index from 0 to ${K - 1}, got ${predicted}`,
    );
  if (!Number.isInteger(label) || label < -1 || label >= K)
    throw new StatsInputError(
      `addRealizedMulticlass: label must be a class index from 0 to ${K - 1} or -1, got ${label}`,
    );
  const auc = acc.auc;
  if (auc) {
    if (scores?.length !== K)
      throw new StatsInputError(
        `addRealizedMulticlass: scores must hold ${K} probabilities, got ${String(scores?.length)}`,
      );
    for (let j = 0; j < K; j++) unit(scores[j] as number, `scores[${j}]`, 'addRealizedMulticlass');
  }
  const at = predicted * (K + 1) + (label === -1 ? K : label);
  acc.confusion[at] = (acc.confusion[at] as number) + sign;
  if (!auc || !scores) return;
  for (let j = 0; j < K; j++) {
    const c = j * auc.bins + scoreCell(scores[j] as number, auc.bins);
    const v = label === j ? auc.pos : auc.neg;
    v[c] = (v[c] as number) + sign;
  }
}

const add = (a: number[], b: number[]) => a.map((v, i) => v + (b[i] as number));

/** The accumulator of both sets of labelled rows; both must have the same shape. */
export function mergeRealized<T extends RealizedAccumulator>(a: T, b: T): T {
  if (a.kind === 'binary' && b.kind === 'binary') {
    if (a.threshold !== b.threshold || a.bins !== b.bins || a.pos.length !== b.pos.length)
      throw new StatsInputError(
        `mergeRealized: thresholds and bins differ (${a.threshold}/${a.bins} vs ${b.threshold}/${b.bins})`,
      );
    return { ...a, pos: add(a.pos, b.pos), neg: add(a.neg, b.neg) };
  }
  if (a.kind === 'multiclass' && b.kind === 'multiclass') {
    if (a.classes !== b.classes || a.auc?.bins !== b.auc?.bins)
      throw new StatsInputError(
        `mergeRealized: shapes differ (${a.classes} classes/${a.auc?.bins ?? 'no'} AUC bins vs ${b.classes}/${b.auc?.bins ?? 'no'})`,
      );
    const out: RealizedMulticlassAccumulator = { ...a, confusion: add(a.confusion, b.confusion) };
    if (a.auc && b.auc)
      out.auc = { bins: a.auc.bins, pos: add(a.auc.pos, b.auc.pos), neg: add(a.auc.neg, b.auc.neg) };
    return out as T;
  }
  throw new StatsInputError(`mergeRealized: cannot merge a ${a.kind} with a ${b.kind} accumulator`);
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);

function classOf(tp: number, predicted: number, actual: number): RealizedClass {
  return {
    precision: ratio(tp, predicted),
    recall: ratio(tp, actual),
    f1: ratio(2 * tp, predicted + actual),
    support: actual,
  };
}

/** AUC from positives and negatives per ascending cell, ties within a cell counted half, with its bound. */
function aucOf(pos: ArrayLike<number>, neg: ArrayLike<number>): { auc: number; bound: number } {
  let negBelow = 0;
  let ordered = 0;
  let within = 0;
  let P = 0;
  for (let c = 0; c < pos.length; c++) {
    const p = pos[c] as number;
    const q = neg[c] as number;
    ordered += p * negBelow;
    within += p * q;
    negBelow += q;
    P += p;
  }
  const pairs = P * negBelow;
  if (!(pairs > 0)) return { auc: Number.NaN, bound: Number.NaN };
  return { auc: (ordered + within / 2) / pairs, bound: within / 2 / pairs };
}

function macroOf(per: RealizedClass[]): RealizedPerformance['macro'] {
  const mean = (k: 'precision' | 'recall' | 'f1') =>
    per.reduce((s, c) => s + (Number.isFinite(c[k]) ? c[k] : 0), 0) / per.length;
  return { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') };
}

/** Realized metrics of a binary accumulator (predicted positive: score ≥ threshold). */
export function realizedBinary(acc: RealizedBinaryAccumulator): RealizedPerformance {
  const first = binaryCell(acc, acc.threshold);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let c = 0; c < acc.pos.length; c++) {
    if (c >= first) {
      tp += acc.pos[c] as number;
      fp += acc.neg[c] as number;
    } else {
      fn += acc.pos[c] as number;
      tn += acc.neg[c] as number;
    }
  }
  const rows = tp + fp + fn + tn;
  const perClass = [classOf(tn, tn + fn, tn + fp), classOf(tp, tp + fp, tp + fn)];
  const { auc, bound } = aucOf(acc.pos, acc.neg);
  return {
    rows,
    confusion: [tn, fn, fp, tp],
    accuracy: ratio(tp + tn, rows),
    perClass,
    macro: macroOf(perClass),
    auc,
    aucPerClass: [],
    aucErrorBound: bound,
  };
}

/** Realized metrics of a K-class accumulator. */
export function realizedMulticlass(acc: RealizedMulticlassAccumulator): RealizedPerformance {
  const K = acc.classes;
  const C = K + 1;
  let rows = 0;
  let correct = 0;
  const predicted = zeros(K);
  const actual = zeros(C);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < C; j++) {
      const v = acc.confusion[i * C + j] as number;
      rows += v;
      predicted[i] = (predicted[i] as number) + v;
      actual[j] = (actual[j] as number) + v;
      if (i === j) correct += v;
    }
  }
  const perClass: RealizedClass[] = [];
  for (let j = 0; j < K; j++)
    perClass.push(classOf(acc.confusion[j * C + j] as number, predicted[j] as number, actual[j] as number));
  const aucPerClass: number[] = [];
  const bounds: number[] = [];
  const auc = acc.auc;
  for (let j = 0; j < K; j++) {
    if (!auc) {
      aucPerClass.push(Number.NaN);
      continue;
    }
    const r = aucOf(
      auc.pos.slice(j * auc.bins, (j + 1) * auc.bins),
      auc.neg.slice(j * auc.bins, (j + 1) * auc.bins),
    );
    aucPerClass.push(r.auc);
    if (Number.isFinite(r.auc)) bounds.push(r.bound);
  }
  const defined = aucPerClass.filter((v) => Number.isFinite(v));
  const mean = (v: number[]) => (v.length === 0 ? Number.NaN : v.reduce((s, x) => s + x, 0) / v.length);
  return {
    rows,
    confusion: acc.confusion.slice(),
    accuracy: ratio(correct, rows),
    perClass,
    macro: macroOf(perClass),
    auc: mean(defined),
    aucPerClass,
    aucErrorBound: mean(bounds),
  };
}

export function realizedPerformance(acc: RealizedAccumulator): RealizedPerformance {
  return acc.kind === 'binary' ? realizedBinary(acc) : realizedMulticlass(acc);
}
