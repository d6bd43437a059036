import gammainc from '@stdlib/math-base-special-gammainc';
import { assertSameLength, countsCopy, type NumericInput, StatsInputError } from './validate.js';

function pairOfCounts(ref: NumericInput, cur: NumericInput, fn: string) {
  assertSameLength(ref, cur, fn);
  const r = countsCopy(ref, 'refCounts', fn);
  const c = countsCopy(cur, 'curCounts', fn);
  if (r.total <= 0) throw new StatsInputError(`${fn}: refCounts sum to zero`);
  if (c.total <= 0) throw new StatsInputError(`${fn}: curCounts sum to zero`);
  return { r: r.counts, c: c.counts, nr: r.total, nc: c.total };
}

/**
 * Population Stability Index: Σ (c − r)·ln(c / r) over bin proportions, each floored at `epsilon`
 * so empty bins give a large but finite contribution. Symmetric in its arguments, ≥ 0.
 */
export function psi(
  refCounts: NumericInput,
  curCounts: NumericInput,
  options: { epsilon?: number } = {},
): number {
  const epsilon = options.epsilon ?? 1e-4;
  if (!(Number.isFinite(epsilon) && epsilon > 0)) {
    throw new StatsInputError(`psi: epsilon must be a positive finite number, got ${String(epsilon)}`);
  }
  const { r, c, nr, nc } = pairOfCounts(refCounts, curCounts, 'psi');
  let s = 0;
  for (let i = 0; i < r.length; i++) {
    const p = Math.max((r[i] as number) / nr, epsilon);
    const q = Math.max((c[i] as number) / nc, epsilon);
    s += (q - p) * Math.log(q / p);
  }
  return s;
}

/**
 * Jensen–Shannon distance with base-2 logarithms (0 … 1), as scipy.spatial.distance.jensenshannon(p, q, base=2):
 * the square root of the mean KL divergence of each distribution to their midpoint. No flooring.
 */
export function jensenShannon(refCounts: NumericInput, curCounts: NumericInput): number {
  const { r, c, nr, nc } = pairOfCounts(refCounts, curCounts, 'jensenShannon');
  let left = 0;
  let right = 0;
  for (let i = 0; i < r.length; i++) {
    const p = (r[i] as number) / nr;
    const q = (c[i] as number) / nc;
    const m = (p + q) / 2;
    if (p > 0) left += p * Math.log(p / m);
    if (q > 0) right += q * Math.log(q / m);
  }
  const js = (left + right) / Math.LN2;
  // Rounding can leave a tiny negative value for identical inputs.
  return Math.sqrt(Math.max(0, js / 2));
}

export interface ChiSquareResult {
  statistic: number;
  pvalue: number;
  dof: number;
}

/** Upper tail of the chi-square distribution: Q(k/2, x/2), the regularized upper incomplete gamma. */
export function chiSquareSf(x: number, dof: number): number {
  if (x <= 0) return 1;
  return gammainc(x / 2, dof / 2, true, true);
}

/**
 * Pearson chi-square test of homogeneity on the 2×k table [ref, cur], as
 * scipy.stats.chi2_contingency([ref, cur], correction=False), after dropping categories empty on both sides.
 * With a single remaining category the statistic is 0, dof 0 and p = 1 (scipy's convention).
 */
export function chiSquareContingency(refCounts: NumericInput, curCounts: NumericInput): ChiSquareResult {
  const { r, c, nr, nc } = pairOfCounts(refCounts, curCounts, 'chiSquareContingency');
  const total = nr + nc;
  let stat = 0;
  let k = 0;
  for (let i = 0; i < r.length; i++) {
    const o1 = r[i] as number;
    const o2 = c[i] as number;
    const col = o1 + o2;
    if (col === 0) continue;
    k++;
    const e1 = (nr * col) / total;
    const e2 = (nc * col) / total;
    stat += ((o1 - e1) * (o1 - e1)) / e1 + ((o2 - e2) * (o2 - e2)) / e2;
  }
  const dof = k - 1;
  if (dof === 0) return { statistic: 0, pvalue: 1, dof: 0 };
  return { statistic: stat, pvalue: chiSquareSf(stat, dof), dof };
}
