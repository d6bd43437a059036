/**
 * Calibration of scores against a baseline's labels: isotonic regression (pool adjacent violators), the
 * expected calibration error, and the choice between the isotonic map and the identity.
 */
import { argmax } from './performance.js';
import { finiteCopy, type NumericInput, StatsInputError } from './validate.js';

/**
 * A monotone (non-decreasing) step function: a score s maps to y[k] for the last k with x[k] ≤ s, and to
 * y[0] below x[0]. x holds each fitted block's smallest baseline score. Plain arrays, so it can be stored.
 */
export interface IsotonicMap {
  x: number[];
  y: number[];
}

function labelsCopy(labels: NumericInput, n: number, fn: string, classes = 2): Float64Array {
  const y = finiteCopy(labels, 'labels', fn);
  if (y.length !== n) throw new StatsInputError(`${fn}: labels has ${y.length} entries, scores has ${n}`);
  for (let i = 0; i < n; i++) {
    const v = y[i] as number;
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      const allowed = classes === 2 ? '0 or 1' : `a class index from 0 to ${classes - 1}`;
      throw new StatsInputError(`${fn}: labels[${i}] is ${v}; each label must be ${allowed}`);
    }
  }
  return y;
}

function unitCopy(values: NumericInput, name: string, fn: string): Float64Array {
  const v = finiteCopy(values, name, fn);
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    if (x < 0 || x > 1) throw new StatsInputError(`${fn}: ${name}[${i}] is ${x}; it must lie in [0, 1]`);
  }
  return v;
}

/**
 * Weighted least-squares non-decreasing fit of y on x (pool adjacent violators). Equal scores are pooled
 * first into one point (weighted mean label, summed weight), as scikit-learn's IsotonicRegression does.
 */
export function isotonicFit(scores: NumericInput, labels: NumericInput, weights?: NumericInput): IsotonicMap {
  const x = finiteCopy(scores, 'scores', 'isotonicFit');
  const y = finiteCopy(labels, 'labels', 'isotonicFit');
  const n = x.length;
  if (y.length !== n)
    throw new StatsInputError(`isotonicFit: labels has ${y.length} entries, scores has ${n}`);
  const w = weights ? finiteCopy(weights, 'weights', 'isotonicFit') : new Float64Array(n).fill(1);
  if (w.length !== n)
    throw new StatsInputError(`isotonicFit: weights has ${w.length} entries, scores has ${n}`);
  for (let i = 0; i < n; i++) {
    if (!((w[i] as number) > 0)) throw new StatsInputError(`isotonicFit: weights[${i}] must be positive`);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (x[a] as number) - (x[b] as number));
  // Pool equal scores first: a later tie could otherwise land in a block already pooled with lower scores.
  const ux: number[] = [];
  const uwy: number[] = [];
  const uw: number[] = [];
  for (const i of order) {
    const xi = x[i] as number;
    const wi = w[i] as number;
    const k = ux.length - 1;
    if (k >= 0 && ux[k] === xi) {
      uwy[k] = (uwy[k] as number) + wi * (y[i] as number);
      uw[k] = (uw[k] as number) + wi;
    } else {
      ux.push(xi);
      uwy.push(wi * (y[i] as number));
      uw.push(wi);
    }
  }
  // Blocks on a stack: smallest score, Σw·y, Σw. A new point pools backwards while it breaks monotonicity.
  const bx: number[] = [];
  const bwy: number[] = [];
  const bw: number[] = [];
  for (let u = 0; u < ux.length; u++) {
    bx.push(ux[u] as number);
    bwy.push(uwy[u] as number);
    bw.push(uw[u] as number);
    while (bx.length > 1) {
      const k = bx.length - 1;
      if ((bwy[k - 1] as number) / (bw[k - 1] as number) < (bwy[k] as number) / (bw[k] as number)) break;
      bwy[k - 1] = (bwy[k - 1] as number) + (bwy[k] as number);
      bw[k - 1] = (bw[k - 1] as number) + (bw[k] as number);
      bx.pop();
      bwy.pop();
      bw.pop();
    }
  }
  return { x: bx, y: bwy.map((v, k) => v / (bw[k] as number)) };
}

/** The step function's value at s. */
export function applyIsotonic(map: IsotonicMap, s: number): number {
  let lo = 0;
  let hi = map.x.length;
  // Last k with x[k] ≤ s.
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if ((map.x[mid] as number) <= s) lo = mid;
    else hi = mid;
  }
  return map.y[lo] as number;
}

function ece(p: Float64Array, y: Float64Array, bins: number): number {
  const gap = new Float64Array(bins);
  for (let i = 0; i < p.length; i++) {
    const v = p[i] as number;
    // Bin b = number of edges k/bins ≤ v, so a probability of 1 is in the last bin (numpy searchsorted right).
    let b = Math.min(bins - 1, Math.floor(v * bins));
    while (b < bins - 1 && (b + 1) / bins <= v) b++;
    while (b > 0 && b / bins > v) b--;
    gap[b] = (gap[b] as number) + (y[i] as number) - v;
  }
  let total = 0;
  for (const g of gap) total += Math.abs(g);
  return total / p.length;
}

/**
 * Expected calibration error: Σ_b (n_b/n)·|mean label − mean probability| over `bins` equal-width bins of
 * the probability on [0, 1].
 */
export function expectedCalibrationError(
  probabilities: NumericInput,
  labels: NumericInput,
  bins = 10,
): number {
  const p = unitCopy(probabilities, 'probabilities', 'expectedCalibrationError');
  const y = labelsCopy(labels, p.length, 'expectedCalibrationError');
  if (!Number.isInteger(bins) || bins < 1) {
    throw new StatsInputError(`expectedCalibrationError: bins must be a positive integer, got ${bins}`);
  }
  return ece(p, y, bins);
}

export interface CalibrationChoice {
  method: 'isotonic' | 'identity';
  /** The isotonic map fitted on every baseline row; null for the identity. */
  map: IsotonicMap | null;
  /** ECE of the raw scores on the baseline. */
  eceIdentity: number;
  /** ECE of the 2-fold cross-fitted isotonic probabilities on the baseline (NaN with fewer than 2 rows). */
  eceIsotonic: number;
}

/** Rows with even index form fold 0, odd fold 1: interleaved, so a baseline sorted by anything splits evenly. */
function crossFit<T>(n: number, fitOn: (rows: number[]) => T, apply: (model: T, row: number) => void): void {
  const folds: number[][] = [[], []];
  for (let i = 0; i < n; i++) (folds[i % 2] as number[]).push(i);
  for (let f = 0; f < 2; f++) {
    const model = fitOn(folds[1 - f] as number[]);
    for (const i of folds[f] as number[]) apply(model, i);
  }
}

/**
 * Chooses isotonic calibration only when it lowers the ECE on the baseline, compared out of sample: each row's
 * calibrated probability comes from the map fitted on the other fold (2-fold cross-fitting by row parity).
 */
export function chooseCalibration(scores: NumericInput, labels: NumericInput, bins = 10): CalibrationChoice {
  const s = unitCopy(scores, 'scores', 'chooseCalibration');
  const y = labelsCopy(labels, s.length, 'chooseCalibration');
  const eceIdentity = expectedCalibrationError(s, y, bins);
  if (s.length < 2) return { method: 'identity', map: null, eceIdentity, eceIsotonic: Number.NaN };
  const crossed = new Float64Array(s.length);
  crossFit(
    s.length,
    (rows) =>
      isotonicFit(
        rows.map((i) => s[i] as number),
        rows.map((i) => y[i] as number),
      ),
    (map, i) => {
      crossed[i] = applyIsotonic(map, s[i] as number);
    },
  );
  const eceIsotonic = ece(crossed, y, bins);
  if (eceIsotonic < eceIdentity) {
    return { method: 'isotonic', map: isotonicFit(s, y), eceIdentity, eceIsotonic };
  }
  return { method: 'identity', map: null, eceIdentity, eceIsotonic };
}

/**
 * K classes: one-vs-rest isotonic maps, one per class (p̂_j against [label = j]), applied to each probability
 * and renormalised to sum to 1 (the raw row is kept if every calibrated probability is 0).
 */
export function applyMulticlassCalibration(maps: IsotonicMap[], probs: ArrayLike<number>): number[] {
  if (probs.length !== maps.length) {
    throw new StatsInputError(
      `applyMulticlassCalibration: probs has ${probs.length} entries, maps ${maps.length}`,
    );
  }
  const q = maps.map((m, j) => applyIsotonic(m, probs[j] as number));
  const total = q.reduce((a, b) => a + b, 0);
  return total > 0 ? q.map((v) => v / total) : Array.from(probs);
}

export interface MulticlassCalibrationChoice {
  method: 'isotonic' | 'identity';
  maps: IsotonicMap[] | null;
  /** Top-label ECE: confidence = probability of the raw argmax class, correct = label is that class. */
  eceIdentity: number;
  eceIsotonic: number;
}

function fitClasses(probs: Float64Array[], y: Float64Array, rows: number[], K: number): IsotonicMap[] {
  const maps: IsotonicMap[] = [];
  for (let j = 0; j < K; j++) {
    maps.push(
      isotonicFit(
        rows.map((i) => (probs[i] as Float64Array)[j] as number),
        rows.map((i) => ((y[i] as number) === j ? 1 : 0)),
      ),
    );
  }
  return maps;
}

/**
 * As `chooseCalibration` for class probabilities, compared on the top-label ECE (the predicted class stays
 * the raw argmax, the model's decision; calibration changes only the confidence the estimate uses).
 */
export function chooseMulticlassCalibration(
  probabilities: ArrayLike<ArrayLike<number>>,
  labels: NumericInput,
  bins = 10,
): MulticlassCalibrationChoice {
  const n = probabilities?.length ?? 0;
  if (n === 0)
    throw new StatsInputError('chooseMulticlassCalibration: probabilities must be a non-empty array');
  const K = (probabilities[0] as ArrayLike<number>).length;
  if (!(K >= 2))
    throw new StatsInputError('chooseMulticlassCalibration: each row needs at least 2 probabilities');
  const probs: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = unitCopy(
      probabilities[i] as ArrayLike<number>,
      `probabilities[${i}]`,
      'chooseMulticlassCalibration',
    );
    if (row.length !== K) {
      throw new StatsInputError(
        `chooseMulticlassCalibration: probabilities[${i}] has ${row.length} entries, not ${K}`,
      );
    }
    probs.push(row);
  }
  const y = labelsCopy(labels, n, 'chooseMulticlassCalibration', K);
  const predicted = probs.map((r) => argmax(r));
  const correct = Float64Array.from(predicted, (c, i) => (c === y[i] ? 1 : 0));
  const conf = Float64Array.from(predicted, (c, i) => (probs[i] as Float64Array)[c] as number);
  const eceIdentity = ece(conf, correct, bins);
  if (n < 2) return { method: 'identity', maps: null, eceIdentity, eceIsotonic: Number.NaN };
  const crossed = new Float64Array(n);
  crossFit(
    n,
    (rows) => fitClasses(probs, y, rows, K),
    (maps, i) => {
      crossed[i] = applyMulticlassCalibration(maps, probs[i] as Float64Array)[
        predicted[i] as number
      ] as number;
    },
  );
  const eceIsotonic = ece(crossed, correct, bins);
  if (eceIsotonic < eceIdentity) {
    const all = Array.from({ length: n }, (_, i) => i);
    return { method: 'isotonic', maps: fitClasses(probs, y, all, K), eceIdentity, eceIsotonic };
  }
  return { method: 'identity', maps: null, eceIdentity, eceIsotonic };
}
