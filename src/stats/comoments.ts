/**
 * Joint (multivariate) drift from mergeable co-moment sums of standardised numeric features.
 *
 * Every row x is standardised with the BASELINE's mean and sd, z_i = (x_i − μ_i)/σ_i, a missing value
 * becoming 0 (the baseline mean) and being counted. A window keeps only n, Σz and the upper triangle of Σzzᵀ,
 * all plain sums, so buckets merge by adding vectors and everything below is computed from the sums alone.
 */
import { chiSquareUpperQuantile, normalTwoSidedP } from './distributions.js';
import { StatsInputError } from './validate.js';

export interface CoMoments {
  /** Number of features d. */
  dim: number;
  /** Rows added. */
  n: number;
  /** Per feature: rows where the value was missing (counted as z = 0). */
  missing: number[];
  /** Per feature: Σ z_i. */
  sum: number[];
  /** Upper triangle of Σ z zᵀ, row by row: (0,0), (0,1) … (0,d−1), (1,1) … (d−1,d−1); d(d+1)/2 entries. */
  sumsq: number[];
}

/** Most features one accumulator takes: d = 100 keeps 5,050 second moments per bucket. */
export const COMOMENTS_MAX_DIM = 100;

export interface Standardisation {
  mean: ArrayLike<number>;
  sd: ArrayLike<number>;
  /**
   * Optional per-feature bounds in raw units (±Infinity or absent: none): a value is clipped into
   * [lower, upper] before it is standardised, so one extreme row cannot dominate a window's sums.
   */
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
}

/** A raw value clipped into the standardisation's bounds for feature i (none given: unchanged). */
export function clipValue(s: Standardisation, i: number, v: number): number {
  const lo = s.lower?.[i] ?? Number.NEGATIVE_INFINITY;
  const hi = s.upper?.[i] ?? Number.POSITIVE_INFINITY;
  return Math.min(hi, Math.max(lo, v));
}

/** Index of (i, j), i ≤ j, in the packed upper triangle of a d×d matrix. */
export function triIndex(d: number, i: number, j: number): number {
  return i * d - (i * (i - 1)) / 2 + (j - i);
}

function checkDim(d: number, fn: string): void {
  if (!Number.isInteger(d) || d < 1 || d > COMOMENTS_MAX_DIM) {
    throw new StatsInputError(
      `${fn}: dim must be an integer from 1 to ${COMOMENTS_MAX_DIM}, got ${String(d)}`,
    );
  }
}

export function emptyCoMoments(dim: number): CoMoments {
  checkDim(dim, 'emptyCoMoments');
  return {
    dim,
    n: 0,
    missing: new Array<number>(dim).fill(0),
    sum: new Array<number>(dim).fill(0),
    sumsq: new Array<number>((dim * (dim + 1)) / 2).fill(0),
  };
}

function checkStandardisation(s: Standardisation, d: number, fn: string): void {
  if (s?.mean?.length !== d || s?.sd?.length !== d) {
    throw new StatsInputError(`${fn}: mean and sd must each have ${d} entries`);
  }
  for (const [name, b] of [
    ['lower', s.lower],
    ['upper', s.upper],
  ] as const) {
    if (b !== undefined && b.length !== d) throw new StatsInputError(`${fn}: ${name} must have ${d} entries`);
  }
  for (let i = 0; i < d; i++) {
    const m = s.mean[i] as number;
    const sd = s.sd[i] as number;
    if (!Number.isFinite(m))
      throw new StatsInputError(`${fn}: mean[${i}] is ${String(m)}; it must be finite`);
    if (!(Number.isFinite(sd) && sd > 0)) {
      throw new StatsInputError(`${fn}: sd[${i}] is ${String(sd)}; it must be positive and finite`);
    }
  }
}

/**
 * Standardises one row with the baseline's mean and sd. A value that is null, undefined or not finite is
 * missing: its z is 0 and its index is listed in `missing`.
 */
export function standardise(
  row: ArrayLike<number | null | undefined>,
  baseline: Standardisation,
): { z: Float64Array; missing: number[] } {
  const d = baseline?.mean?.length ?? 0;
  checkStandardisation(baseline, d, 'standardise');
  if (row?.length !== d)
    throw new StatsInputError(`standardise: row must have ${d} values, got ${row?.length}`);
  const z = new Float64Array(d);
  const missing: number[] = [];
  for (let i = 0; i < d; i++) {
    const v = row[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) missing.push(i);
    else z[i] = (clipValue(baseline, i, v) - (baseline.mean[i] as number)) / (baseline.sd[i] as number);
  }
  return { z, missing };
}

/** Adds one raw row (standardised with `baseline`) to the accumulator, in place. */
export function addRow(
  acc: CoMoments,
  row: ArrayLike<number | null | undefined>,
  baseline: Standardisation,
): CoMoments {
  const { z, missing } = standardise(row, baseline);
  if (z.length !== acc.dim)
    throw new StatsInputError(`addRow: row has ${z.length} features, accumulator ${acc.dim}`);
  const d = acc.dim;
  acc.n += 1;
  for (const i of missing) acc.missing[i] = (acc.missing[i] as number) + 1;
  let t = 0;
  for (let i = 0; i < d; i++) {
    const zi = z[i] as number;
    acc.sum[i] = (acc.sum[i] as number) + zi;
    for (let j = i; j < d; j++, t++) acc.sumsq[t] = (acc.sumsq[t] as number) + zi * (z[j] as number);
  }
  return acc;
}

/**
 * The two accumulators `baselinePca` takes from one baseline: even rows fit the components, odd rows
 * calibrate the null (both standardised with the whole baseline's mean and sd).
 */
export function baselineHalves(
  rows: Iterable<ArrayLike<number | null | undefined>>,
  baseline: Standardisation,
): { fit: CoMoments; calibration: CoMoments } {
  const d = baseline?.mean?.length ?? 0;
  const fit = emptyCoMoments(d);
  const calibration = emptyCoMoments(d);
  let k = 0;
  for (const row of rows) addRow(k++ % 2 === 0 ? fit : calibration, row, baseline);
  return { fit, calibration };
}

/**
 * Chunks a baseline is split into for its nulls: row k goes to chunk k mod 32, so the even chunks together
 * are `baselineHalves`' fit half and the odd ones its calibration half. Their spread is the sampling noise
 * of this very data (heavy tails included), where the textbook variances assume normal rows.
 */
export const BASELINE_CHUNKS = 32;

/** The baseline's rows in `chunks` round-robin accumulators (see BASELINE_CHUNKS). */
export function baselineChunks(
  rows: Iterable<ArrayLike<number | null | undefined>>,
  baseline: Standardisation,
  chunks = BASELINE_CHUNKS,
): CoMoments[] {
  const d = baseline?.mean?.length ?? 0;
  if (!(Number.isInteger(chunks) && chunks >= 2 && chunks % 2 === 0)) {
    throw new StatsInputError(`baselineChunks: chunks must be an even integer ≥ 2, got ${String(chunks)}`);
  }
  const out = Array.from({ length: chunks }, () => emptyCoMoments(d));
  let k = 0;
  for (const row of rows) addRow(out[k++ % chunks] as CoMoments, row, baseline);
  return out;
}

/** Accumulator of many rows. */
export function coMomentsOf(rows: Iterable<ArrayLike<number | null | undefined>>, baseline: Standardisation) {
  const acc = emptyCoMoments(baseline?.mean?.length ?? 0);
  for (const row of rows) addRow(acc, row, baseline);
  return acc;
}

function checkAcc(acc: CoMoments, fn: string): void {
  if (acc === null || typeof acc !== 'object')
    throw new StatsInputError(`${fn}: accumulator must be an object`);
  checkDim(acc.dim, fn);
  const d = acc.dim;
  if (!(Number.isFinite(acc.n) && acc.n >= 0))
    throw new StatsInputError(`${fn}: n must be a non-negative number`);
  for (const [name, arr, len] of [
    ['missing', acc.missing, d],
    ['sum', acc.sum, d],
    ['sumsq', acc.sumsq, (d * (d + 1)) / 2],
  ] as const) {
    if (!Array.isArray(arr) || arr.length !== len) {
      throw new StatsInputError(`${fn}: ${name} must have ${len} entries for dim ${d}`);
    }
    for (let i = 0; i < len; i++) {
      if (!Number.isFinite(arr[i])) throw new StatsInputError(`${fn}: ${name}[${i}] is ${String(arr[i])}`);
    }
  }
}

/** The union of two windows: every sum adds. Both must have the same dimension. */
export function mergeCoMoments(a: CoMoments, b: CoMoments): CoMoments {
  checkAcc(a, 'mergeCoMoments');
  checkAcc(b, 'mergeCoMoments');
  if (a.dim !== b.dim) throw new StatsInputError(`mergeCoMoments: dimensions differ (${a.dim} vs ${b.dim})`);
  return {
    dim: a.dim,
    n: a.n + b.n,
    missing: a.missing.map((v, i) => v + (b.missing[i] as number)),
    sum: a.sum.map((v, i) => v + (b.sum[i] as number)),
    sumsq: a.sumsq.map((v, i) => v + (b.sumsq[i] as number)),
  };
}

/** Flat float64 layout for storage: [d, n, missing…, sum…, sumsq…]; adding two vectors of the same d merges. */
export function coMomentsToVector(acc: CoMoments): Float64Array {
  checkAcc(acc, 'coMomentsToVector');
  return Float64Array.from([acc.dim, acc.n, ...acc.missing, ...acc.sum, ...acc.sumsq]);
}

export function coMomentsFromVector(v: ArrayLike<number>): CoMoments {
  const d = v?.[0] as number;
  checkDim(d, 'coMomentsFromVector');
  const len = 2 + 2 * d + (d * (d + 1)) / 2;
  if (v.length !== len) {
    throw new StatsInputError(
      `coMomentsFromVector: a vector of dim ${d} has ${len} entries, got ${v.length}`,
    );
  }
  const arr = Array.from(v);
  const acc: CoMoments = {
    dim: d,
    n: arr[1] as number,
    missing: arr.slice(2, 2 + d),
    sum: arr.slice(2 + d, 2 + 2 * d),
    sumsq: arr.slice(2 + 2 * d),
  };
  checkAcc(acc, 'coMomentsFromVector');
  return acc;
}

function requireRows(acc: CoMoments, min: number, fn: string): void {
  checkAcc(acc, fn);
  if (acc.n < min) throw new StatsInputError(`${fn}: needs at least ${min} rows, got ${acc.n}`);
}

/** Mean of the standardised features, Σz/n. */
export function coMean(acc: CoMoments): Float64Array {
  requireRows(acc, 1, 'coMean');
  return Float64Array.from(acc.sum, (s) => s / acc.n);
}

/** Second-moment matrix about the BASELINE mean, Σzzᵀ/n (d×d, row-major): the S/n of the reconstruction error. */
export function secondMoment(acc: CoMoments): Float64Array {
  requireRows(acc, 1, 'secondMoment');
  const d = acc.dim;
  const out = new Float64Array(d * d);
  for (let i = 0, t = 0; i < d; i++) {
    for (let j = i; j < d; j++, t++) {
      const v = (acc.sumsq[t] as number) / acc.n;
      out[i * d + j] = v;
      out[j * d + i] = v;
    }
  }
  return out;
}

/** Sample covariance of the standardised features about the window's own mean (ddof = 1, as numpy.cov). */
export function coCovariance(acc: CoMoments): Float64Array {
  requireRows(acc, 2, 'coCovariance');
  const d = acc.dim;
  const n = acc.n;
  const out = new Float64Array(d * d);
  for (let i = 0, t = 0; i < d; i++) {
    for (let j = i; j < d; j++, t++) {
      // Standardised sums are O(n), so this one-pass form loses only ~|mean|² of relative precision.
      const v = ((acc.sumsq[t] as number) - ((acc.sum[i] as number) * (acc.sum[j] as number)) / n) / (n - 1);
      out[i * d + j] = v;
      out[j * d + i] = v;
    }
  }
  return out;
}

/** Pearson correlation matrix (as numpy.corrcoef); a feature with zero variance gives NaN in its row and column. */
export function coCorrelation(acc: CoMoments): Float64Array {
  const cov = coCovariance(acc);
  const d = acc.dim;
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const den = Math.sqrt((cov[i * d + i] as number) * (cov[j * d + j] as number));
      out[i * d + j] =
        i === j ? (den > 0 ? 1 : Number.NaN) : den > 0 ? (cov[i * d + j] as number) / den : Number.NaN;
    }
  }
  return out;
}

/**
 * Eigen-decomposition of a real symmetric d×d matrix (row-major) by cyclic Jacobi rotations with
 * threshold skipping: values descending, vectors[k] the unit eigenvector of values[k]. Accurate to a few
 * ulps of the matrix norm; O(d³) per sweep, a handful of sweeps (d ≤ 100 in milliseconds).
 */
export function symmetricEigen(
  matrix: ArrayLike<number>,
  d: number,
): { values: Float64Array; vectors: Float64Array[] } {
  if (!Number.isInteger(d) || d < 1 || matrix?.length !== d * d) {
    throw new StatsInputError(`symmetricEigen: matrix must have d·d = ${d * d} entries`);
  }
  const a = Float64Array.from(matrix);
  for (let i = 0; i < d * d; i++) {
    if (!Number.isFinite(a[i] as number))
      throw new StatsInputError(`symmetricEigen: matrix[${i}] is not finite`);
  }
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const x = a[i * d + j] as number;
      const y = a[j * d + i] as number;
      if (Math.abs(x - y) > 1e-12 * Math.max(1, Math.abs(x), Math.abs(y))) {
        throw new StatsInputError(`symmetricEigen: matrix is not symmetric at (${i}, ${j})`);
      }
      a[j * d + i] = x;
    }
  }
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let norm = 0;
  for (let i = 0; i < d * d; i++) norm += (a[i] as number) ** 2;
  const tiny = Number.EPSILON * Math.sqrt(norm);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += (a[p * d + q] as number) ** 2;
    if (Math.sqrt(off) <= tiny) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q] as number;
        if (Math.abs(apq) <= tiny / d) continue;
        const app = a[p * d + p] as number;
        const aqq = a[q * d + q] as number;
        // Rotation angle from the stable form t = sgn(θ)/(|θ| + √(θ²+1)), θ = (a_qq − a_pp)/(2a_pq).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p] as number;
          const akq = a[k * d + q] as number;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k] as number;
          const aqk = a[q * d + k] as number;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p] as number;
          const vkq = v[k * d + q] as number;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort(
    (x, y) => (a[y * d + y] as number) - (a[x * d + x] as number),
  );
  const values = Float64Array.from(order, (i) => a[i * d + i] as number);
  const vectors = order.map((col) => Float64Array.from({ length: d }, (_, k) => v[k * d + col] as number));
  return { values, vectors };
}

export interface BaselinePca {
  dim: number;
  /** Second-moment matrix C = Σzzᵀ/n of the half the components were fitted on (about the baseline mean). */
  c: Float64Array;
  /** All eigenvalues of C, descending. */
  eigenvalues: Float64Array;
  /** The kept principal directions (unit vectors), spanning the projector P. */
  components: Float64Array[];
  /** Share of tr(C) the kept components explain. */
  explained: number;
  /** tr((I−P)C') with C' the calibration half's second moments: the window's expected error under H0. */
  residualTrace: number;
  /** tr(((I−P)C')²): drives the error's variance, 2·residualSquare/n for Gaussian rows. */
  residualSquare: number;
  /** Rows of the calibration half (its own sampling noise widens the threshold). */
  calibrationN: number;
  /**
   * Per-row variance of the error measured on the calibration chunks, m·Var(err) over chunks of m rows, at
   * its upper 95% confidence bound; null without chunks. Heavy tails make it exceed the Gaussian 2·residualSquare.
   */
  chunkVariance: number | null;
}

/** An upper bound on a variance measured with `dof` degrees of freedom from chunks are taken at this confidence. */
const CHUNK_VARIANCE_CONFIDENCE = 0.95;

/** `estimate`·dof/χ²_dof(lower 5%): the variance a null may assume without trusting a lucky small spread. */
function varianceUpperBound(estimate: number, dof: number): number {
  return (estimate * dof) / chiSquareUpperQuantile(CHUNK_VARIANCE_CONFIDENCE, dof);
}

/** (I − P) M (I − P) for symmetric M, P the projector on `components`. */
function residualSandwich(m: Float64Array, components: Float64Array[], d: number): Float64Array {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) a[i * d + i] = 1;
  for (const v of components) {
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++)
        a[i * d + j] = (a[i * d + j] as number) - (v[i] as number) * (v[j] as number);
  }
  const am = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k] as number;
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) am[i * d + j] = (am[i * d + j] as number) + aik * (m[k * d + j] as number);
    }
  }
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const x = am[i * d + k] as number;
      if (x === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] = (out[i * d + j] as number) + x * (a[k * d + j] as number);
    }
  }
  return out;
}

/**
 * The baseline's principal components: the fewest leading eigenvectors of the `fit` half's C whose
 * eigenvalues reach `varianceShare` of tr(C) (default 65%), at most d − 1 so a residual subspace is always
 * left to watch. The null of the error is measured on the other, `calibration` half (e.g. odd baseline rows):
 * the dropped eigenvalues of the fit half itself are biased low (the smallest-variance directions are picked
 * from its own noise), which would make the threshold fire too often.
 */
export function baselinePca(
  fit: CoMoments,
  calibration: CoMoments,
  options: { varianceShare?: number; chunks?: readonly CoMoments[] } = {},
): BaselinePca {
  const share = options.varianceShare ?? 0.65;
  if (!(share > 0 && share < 1)) {
    throw new StatsInputError(`baselinePca: varianceShare must be in (0, 1), got ${String(share)}`);
  }
  requireRows(fit, 2, 'baselinePca');
  requireRows(calibration, 2, 'baselinePca');
  if (fit.dim < 2) throw new StatsInputError('baselinePca: needs at least 2 features');
  if (calibration.dim !== fit.dim) {
    throw new StatsInputError(`baselinePca: calibration has ${calibration.dim} features, fit ${fit.dim}`);
  }
  const d = fit.dim;
  const c = secondMoment(fit);
  const { values, vectors } = symmetricEigen(c, d);
  let total = 0;
  for (let i = 0; i < d; i++) total += Math.max(0, values[i] as number);
  let kept = 0;
  let acc = 0;
  while (kept < d - 1 && acc < share * total) acc += Math.max(0, values[kept++] as number);
  const components = vectors.slice(0, kept);
  // tr(A C' A C') = ‖A C' A‖²_F since A = I − P is a symmetric idempotent.
  const r = residualSandwich(secondMoment(calibration), components, d);
  let residualTrace = 0;
  let residualSquare = 0;
  for (let i = 0; i < d; i++) residualTrace += r[i * d + i] as number;
  for (let i = 0; i < d * d; i++) residualSquare += (r[i] as number) ** 2;
  const pca: BaselinePca = {
    dim: d,
    c,
    eigenvalues: values,
    components,
    explained: total > 0 ? acc / total : 0,
    residualTrace,
    residualSquare,
    calibrationN: calibration.n,
    chunkVariance: null,
  };
  if (options.chunks) pca.chunkVariance = chunkErrorVariance(pca, options.chunks);
  return pca;
}

/**
 * Per-row variance of the reconstruction error from calibration chunks (rows the components were not fitted
 * on): Σ m_k (e_k − ē)²/(K − 1) with ē weighted by the chunks' rows m_k, since Var(e_k) = σ²/m_k. At its
 * upper confidence bound; null with fewer than 4 usable chunks.
 */
function chunkErrorVariance(pca: BaselinePca, chunks: readonly CoMoments[]): number | null {
  const used = chunks.filter((c) => c.dim === pca.dim && c.n >= 2);
  if (used.length < 4) return null;
  const errors = used.map((c) => reconstructionError(pca, c));
  let rows = 0;
  let mean = 0;
  for (const [k, c] of used.entries()) {
    rows += c.n;
    mean += c.n * (errors[k] as number);
  }
  mean /= rows;
  let ss = 0;
  for (const [k, c] of used.entries()) ss += c.n * ((errors[k] as number) - mean) ** 2;
  const dof = used.length - 1;
  return varianceUpperBound(ss / dof, dof);
}

/**
 * Reconstruction error of a window from its sums: tr((I − P) S)/n with S = Σzzᵀ (about the baseline mean),
 * i.e. the mean squared distance of the window's standardised rows from the baseline's principal subspace.
 * Computed as (tr S − Σ_k v_kᵀ S v_k)/n, so it equals the row-by-row mean exactly up to rounding.
 */
export function reconstructionError(pca: BaselinePca, window: CoMoments): number {
  requireRows(window, 1, 'reconstructionError');
  if (window.dim !== pca.dim) {
    throw new StatsInputError(`reconstructionError: window has ${window.dim} features, baseline ${pca.dim}`);
  }
  const s = secondMoment(window);
  const d = pca.dim;
  let err = 0;
  for (let i = 0; i < d; i++) err += s[i * d + i] as number;
  for (const v of pca.components) {
    let q = 0;
    for (let i = 0; i < d; i++) {
      let row = 0;
      for (let j = 0; j < d; j++) row += (s[i * d + j] as number) * (v[j] as number);
      q += (v[i] as number) * row;
    }
    err -= q;
  }
  return Math.max(0, err);
}

/**
 * Default per-window false-alarm level of the reconstruction error: one alarm in 10,000 null buckets
 * (over a year of hourly buckets). 1e-3 would give one in ten runs of 100 null buckets.
 */
export const RECONSTRUCTION_ALPHA = 1e-4;

export interface ReconstructionNull {
  /** E[err] under H0: tr((I−P)C'), measured on the calibration half. */
  mean: number;
  /** sd of err − mean under H0 (Gaussian rows), window and calibration noise: √(2 tr(((I−P)C')²)(1/n + 1/n')). */
  sd: number;
  /** Upper alpha-quantile g·χ²_h(α)/m, with m = (1/n + 1/n')⁻¹ and g, h as below. */
  threshold: number;
  /** Satterthwaite degrees of freedom h. */
  dof: number;
}

/**
 * Analytic null of the reconstruction error at window size n: with standardised rows z ~ N(0, C) the
 * statistic n·err = Σ_dropped λ χ²_n, matched in mean and variance by a scaled chi-square g·χ²_h
 * (h = n·tr(AC)²/tr((AC)²), g = tr((AC)²)/tr(AC)); n is replaced by the effective size (1/n + 1/n')⁻¹ so
 * the calibration half's own noise is counted. Holds at any n; `alpha` is the per-window false-alarm level.
 */
export function reconstructionNull(
  pca: BaselinePca,
  n: number,
  options: { alpha?: number } = {},
): ReconstructionNull {
  const alpha = options.alpha ?? RECONSTRUCTION_ALPHA;
  if (!(alpha > 0 && alpha < 1)) {
    throw new StatsInputError(`reconstructionNull: alpha must be in (0, 1), got ${String(alpha)}`);
  }
  if (!(Number.isFinite(n) && n >= 1))
    throw new StatsInputError(`reconstructionNull: n must be ≥ 1, got ${String(n)}`);
  const s1 = pca.residualTrace;
  const s2 = pca.residualSquare;
  if (!(s1 > 0 && s2 > 0)) return { mean: 0, sd: 0, threshold: 0, dof: 0 };
  const m = 1 / (1 / n + 1 / pca.calibrationN);
  // Per-row variance: the Gaussian 2·tr((AC′)²), or the chunks' own spread when that is larger.
  const v = Math.max(2 * s2, pca.chunkVariance ?? 0);
  const g = v / (2 * s1);
  const h = (2 * m * s1 * s1) / v;
  return {
    mean: s1,
    sd: Math.sqrt(v / m),
    threshold: (g * chiSquareUpperQuantile(alpha, h)) / m,
    dof: h,
  };
}

/**
 * Per pair, how much wider than Fisher's 1/(n − 3) the sampling variance of atanh r is in this baseline,
 * measured on its chunks: f = Σ_k (m_k − 3)(a_k − ā)²/(K − 1) over the chunks' atanh r_k (≈ 1 for normal
 * pairs, far above for heavy-tailed ones), at its upper confidence bound and never below 1. NaN when fewer
 * than half the chunks give the pair a correlation: such a pair is not tested.
 */
export interface CorrelationNull {
  /** Packed like CoMoments.sumsq (triIndex); the diagonal is unused. */
  factor: Float64Array;
}

export function correlationNull(chunks: readonly CoMoments[]): CorrelationNull {
  if (!Array.isArray(chunks) || chunks.length < 4) {
    throw new StatsInputError('correlationNull: needs at least 4 chunks');
  }
  const d = (chunks[0] as CoMoments).dim;
  for (const c of chunks) {
    checkAcc(c, 'correlationNull');
    if (c.dim !== d) throw new StatsInputError('correlationNull: chunks have different dimensions');
  }
  const used = chunks.filter((c) => c.n >= 5);
  const corr = used.map((c) => coCorrelation(c));
  const factor = new Float64Array((d * (d + 1)) / 2).fill(Number.NaN);
  const a = new Float64Array(used.length);
  const w = new Float64Array(used.length);
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      let k = 0;
      let sw = 0;
      let swa = 0;
      for (const [c, r] of corr.entries()) {
        const rij = r[i * d + j] as number;
        if (Number.isNaN(rij)) continue;
        a[k] = Math.atanh(clampR(rij));
        w[k] = (used[c] as CoMoments).n - 3;
        sw += w[k] as number;
        swa += (w[k] as number) * (a[k] as number);
        k++;
      }
      if (k < Math.max(4, chunks.length / 2)) continue;
      const mean = swa / sw;
      let ss = 0;
      for (let q = 0; q < k; q++) ss += (w[q] as number) * ((a[q] as number) - mean) ** 2;
      factor[triIndex(d, i, j)] = Math.max(1, varianceUpperBound(ss / (k - 1), k - 1));
    }
  }
  return { factor };
}

export interface CorrelationChange {
  i: number;
  j: number;
  /** "a × b" when feature names were given. */
  pair?: string;
  baseline: number;
  window: number;
  /** window − baseline. */
  delta: number;
  /** Fisher statistic (atanh r_w − atanh r_b)/√(f·(1/(n_b−3) + 1/(n_w−3))), f from the CorrelationNull (else 1). */
  z: number;
  /** f: the baseline's variance factor of this pair (1 without a CorrelationNull). */
  varianceFactor: number;
  /** Two-sided p-value, for the caller's Benjamini–Hochberg step. */
  pvalue: number;
  /** |delta| ≥ minDelta: a pair is flagged only if this holds AND its adjusted p-value passes. */
  large: boolean;
}

const R_LIMIT = 1 - 1e-15;
const clampR = (r: number) => Math.max(-R_LIMIT, Math.min(R_LIMIT, r));

/**
 * Correlation change of every feature pair between baseline and window sums (Fisher z test, both sides
 * treated as independent samples; with `nul`, its variance widened by the pair's factor from the baseline's
 * chunks). Pairs involving a constant feature, or that `nul` cannot judge, are skipped.
 */
export function correlationChanges(
  baseline: CoMoments,
  window: CoMoments,
  options: { minDelta?: number; names?: readonly string[]; nul?: CorrelationNull } = {},
): CorrelationChange[] {
  const minDelta = options.minDelta ?? 0.2;
  if (!(minDelta >= 0 && minDelta <= 2)) {
    throw new StatsInputError(`correlationChanges: minDelta must be in [0, 2], got ${String(minDelta)}`);
  }
  requireRows(baseline, 4, 'correlationChanges');
  requireRows(window, 4, 'correlationChanges');
  if (baseline.dim !== window.dim) {
    throw new StatsInputError(
      `correlationChanges: window has ${window.dim} features, baseline ${baseline.dim}`,
    );
  }
  const names = options.names;
  if (names !== undefined && names.length !== baseline.dim) {
    throw new StatsInputError(`correlationChanges: names must have ${baseline.dim} entries`);
  }
  const d = baseline.dim;
  const rb = coCorrelation(baseline);
  const rw = coCorrelation(window);
  const nul = options.nul;
  if (nul !== undefined && nul.factor?.length !== (d * (d + 1)) / 2) {
    throw new StatsInputError(`correlationChanges: the null's factors are not of dimension ${d}`);
  }
  const se = Math.sqrt(1 / (baseline.n - 3) + 1 / (window.n - 3));
  const out: CorrelationChange[] = [];
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const b = rb[i * d + j] as number;
      const w = rw[i * d + j] as number;
      const f = nul ? (nul.factor[triIndex(d, i, j)] as number) : 1;
      if (Number.isNaN(b) || Number.isNaN(w) || Number.isNaN(f)) continue;
      const z = (Math.atanh(clampR(w)) - Math.atanh(clampR(b))) / (se * Math.sqrt(f));
      const change: CorrelationChange = {
        i,
        j,
        baseline: b,
        window: w,
        delta: w - b,
        z,
        varianceFactor: f,
        pvalue: normalTwoSidedP(z),
        large: Math.abs(w - b) >= minDelta,
      };
      if (names) change.pair = `${names[i]} × ${names[j]}`;
      out.push(change);
    }
  }
  return out;
}
