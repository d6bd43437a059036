import { kstwoSf } from './kolmogorov.js';
import { type NumericInput, StatsInputError, sortedCopy } from './validate.js';

export type KsMethod = 'auto' | 'exact' | 'asymp';

export interface KsResult {
  /** sup |F_a - F_b|; in exact mode rounded to the lattice h / lcm(n1, n2), as scipy does. */
  statistic: number;
  /** Two-sided p-value. */
  pvalue: number;
  /** Method actually used (an `exact` request falls back to `asymp` when the lattice is too large). */
  method: 'exact' | 'asymp';
}

/** `auto` uses the exact distribution up to this sample size (scipy's MAX_AUTO_N). */
export const KS_MAX_AUTO_N = 10000;
const INT32_MAX = 2147483647;

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

/** numpy.round semantics: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * P(D_{n,n} >= h/n) for equal sample sizes: alternating sum of ratios of binomial coefficients,
 * evaluated in nested (Horner-like) form so no term exceeds 1.
 */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
  }
  return 2 * P;
}

/**
 * P(D_{m,n} >= h/lcm) for unequal sizes: lattice paths from (0,0) to (m,n) that leave the band
 * |x/m - y/n| < h/lcm, counted column by column as a probability (Hodges' inside method in the
 * complementary form of Viehmann 2021) so that entries stay in [0, 1] and never overflow.
 */
function probOutsideBand(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  A.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    const shift = minj - lastminj;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = ((A[jj + shift] as number) * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, curlen, curlen + (lastlen - curlen));
  }
  return A[maxj - minj - 1] as number;
}

function checkMethod(method: unknown, fn: string): KsMethod {
  if (method !== 'auto' && method !== 'exact' && method !== 'asymp') {
    throw new StatsInputError(`${fn}: method must be 'auto', 'exact' or 'asymp', got ${String(method)}`);
  }
  return method;
}

/**
 * Two-sided p-value of a two-sample KS statistic `d` for sample sizes n1, n2, with the same method
 * selection and lattice rounding as scipy.stats.ks_2samp (scipy 1.10).
 */
export function ksPvalue(d: number, n1: number, n2: number, options: { method?: KsMethod } = {}): KsResult {
  const method = checkMethod(options.method ?? 'auto', 'ksPvalue');
  if (!Number.isFinite(d) || d < 0 || d > 1) {
    throw new StatsInputError(`ksPvalue: statistic must be in [0, 1], got ${String(d)}`);
  }
  for (const [name, v] of [
    ['n1', n1],
    ['n2', n2],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new StatsInputError(`ksPvalue: ${name} must be a positive integer, got ${String(v)}`);
    }
  }
  const g = gcd(n1, n2);
  const n1g = n1 / g;
  const n2g = n2 / g;
  let mode: 'exact' | 'asymp';
  if (method === 'auto') mode = Math.max(n1, n2) <= KS_MAX_AUTO_N ? 'exact' : 'asymp';
  else if (method === 'exact' && n1g >= INT32_MAX / n2g) mode = 'asymp';
  else mode = method;

  let statistic = d;
  let prob = Number.NaN;
  if (mode === 'exact') {
    const lcm = n1g * n2;
    const h = roundHalfEven(d * lcm);
    statistic = h / lcm;
    if (h === 0) return { statistic, pvalue: 1, method: 'exact' };
    prob = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h);
    // Mirrors scipy: an unusable exact result silently switches to the asymptotic distribution.
    if (!(prob >= 0 && prob <= 1)) mode = 'asymp';
  }
  if (mode === 'asymp') {
    const en = (n1 * n2) / (n1 + n2);
    prob = kstwoSf(statistic, Math.max(1, roundHalfEven(en)));
  }
  return { statistic, pvalue: Math.min(1, Math.max(0, prob)), method: mode };
}

/** KS distance sup_x |F_a(x) - F_b(x)| of two ascending arrays (ties handled as numpy searchsorted 'right'). */
export function ksStatisticSorted(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxDiff = 0;
  let minDiff = 0;
  while (i < n1 && j < n2) {
    const ai = a[i] as number;
    const bj = b[j] as number;
    const x = Math.min(ai, bj);
    while (i < n1 && (a[i] as number) <= x) i++;
    while (j < n2 && (b[j] as number) <= x) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxDiff) maxDiff = diff;
    else if (diff < minDiff) minDiff = diff;
  }
  return Math.max(maxDiff, -minDiff);
}

/**
 * Two-sample two-sided Kolmogorov–Smirnov test, as scipy.stats.ks_2samp(a, b, method=…):
 * `auto` is exact when max(n1, n2) <= 10000, otherwise asymptotic (kstwo with n = round(n1 n2 / (n1 + n2))).
 */
export function ksTwoSample(a: NumericInput, b: NumericInput, options: { method?: KsMethod } = {}): KsResult {
  const method = checkMethod(options.method ?? 'auto', 'ksTwoSample');
  const sa = sortedCopy(a, 'a', 'ksTwoSample');
  const sb = sortedCopy(b, 'b', 'ksTwoSample');
  return ksPvalue(ksStatisticSorted(sa, sb), sa.length, sb.length, { method });
}
