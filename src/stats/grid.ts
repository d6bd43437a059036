/**
 * Statistics from counts on a fixed "fine grid", for pre-aggregated windows.
 *
 * Cell convention (same as `histogram`): with strictly ascending edges e[0..E-1] there are E + 1 cells,
 * cell 0 = (-inf, e[0]), cell i = [e[i-1], e[i]), cell E = [e[E-1], +inf). Counts per cell can be summed
 * across windows, and coarse bins whose edges are grid edges are recovered exactly with `rebin`.
 */
import { type KsMethod, type KsResult, ksPvalue } from './ks.js';
import { quantileEdgesSorted, quantileSorted } from './quantile.js';
import { countsCopy, edgesCopy, type NumericInput, StatsInputError, sortedCopy } from './validate.js';

export interface GridCounts {
  /** Strictly ascending cut points. */
  edges: NumericInput;
  /** Reference (baseline) counts per cell, length edges.length + 1. */
  refCounts: NumericInput;
  /** Current-window counts per cell, length edges.length + 1. */
  curCounts: NumericInput;
  /**
   * Set when every value of both samples is exactly one of the edges (see `offEdgeCount`);
   * the grid statistics are then exact rather than bounded.
   */
  onEdges?: boolean;
  /** Lower bound on every value of both samples (e.g. the running minimum); closes the first cell. */
  min?: number;
  /** Upper bound on every value of both samples (e.g. the running maximum); closes the last cell. */
  max?: number;
  /**
   * Sum of the reference values in each cell (length edges.length + 1; NaN where unknown). With `curSums`,
   * Wasserstein integrates each inner cell from its exact mass and mean instead of assuming uniform values.
   */
  refSums?: NumericInput;
  /** Sum of the current values in each cell, as `refSums`. */
  curSums?: NumericInput;
  /**
   * Largest error of one current value's position in `curSums`, as a fraction of its cell's width (driftwatch
   * keeps positions to 1/255; default 0: exact sums). KS uses it to keep its in-cell bound a bound.
   */
  curSumError?: number;
}

export interface FineGrid {
  /** Grid edges: contains every coarse edge, so coarse counts follow from `rebin`. */
  edges: Float64Array;
  /** Decile (or `bins`-quantile) edges of the baseline, as `quantileEdges(values, bins)`. */
  coarseEdges: Float64Array;
  /** True when the edges include every distinct baseline value (few distinct values, e.g. integers). */
  exact: boolean;
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** Smallest double greater than x (x finite). */
export function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  u64[0] = x > 0 ? (u64[0] as bigint) + 1n : (u64[0] as bigint) - 1n;
  return f64[0] as number;
}

function uniqueSorted(values: number[]): Float64Array {
  const arr = Float64Array.from(values).sort();
  let k = 0;
  for (let i = 0; i < arr.length; i++) {
    if (k === 0 || (arr[i] as number) !== (arr[k - 1] as number)) arr[k++] = arr[i] as number;
  }
  return arr.slice(0, k);
}

/**
 * Builds a fine grid from baseline values.
 * - Few distinct values (≤ maxCells): the edges are exactly those values, so tied/integer data are represented
 *   without loss (`exact: true`).
 * - Otherwise: the baseline quantiles at k/maxCells (k = 0…maxCells, so the baseline min and max are edges),
 *   plus, for every value holding more than 1/maxCells of the mass, that value and the next double above it,
 *   which isolates heavy ties in zero-width cells.
 * In both cases the coarse quantile edges (`bins`, default deciles) are added, so PSI bins are unions of cells.
 */
export function fineGrid(values: NumericInput, options: { maxCells?: number; bins?: number } = {}): FineGrid {
  const maxCells = options.maxCells ?? 1000;
  const bins = options.bins ?? 10;
  if (!Number.isInteger(maxCells) || maxCells < 1) {
    throw new StatsInputError(`fineGrid: maxCells must be a positive integer, got ${String(maxCells)}`);
  }
  if (!Number.isInteger(bins) || bins < 1) {
    throw new StatsInputError(`fineGrid: bins must be a positive integer, got ${String(bins)}`);
  }
  const sorted = sortedCopy(values, 'values', 'fineGrid');
  const n = sorted.length;
  const coarseEdges = quantileEdgesSorted(sorted, bins);
  const distinct: number[] = [];
  const heavy: number[] = [];
  let runStart = 0;
  for (let i = 1; i <= n; i++) {
    if (i === n || (sorted[i] as number) !== (sorted[runStart] as number)) {
      const v = sorted[runStart] as number;
      distinct.push(v);
      if ((i - runStart) * maxCells > n) heavy.push(v);
      runStart = i;
    }
  }
  const coarse = Array.from(coarseEdges);
  if (distinct.length <= maxCells) {
    return { edges: uniqueSorted(distinct.concat(coarse)), coarseEdges, exact: true };
  }
  const cand: number[] = coarse;
  const step = 1 / maxCells;
  for (let k = 0; k <= maxCells; k++) cand.push(quantileSorted(sorted, k * step));
  for (const v of heavy) cand.push(v, nextUp(v));
  return { edges: uniqueSorted(cand), coarseEdges, exact: false };
}

/**
 * Sums fine-grid counts into the coarse bins defined by `coarseEdges` (same cell convention).
 * Every coarse edge must be one of the fine edges, which makes the result identical to
 * `histogram(coarseEdges, values)` on the raw values.
 */
export function rebin(edges: NumericInput, counts: NumericInput, coarseEdges: NumericInput): Float64Array {
  const e = edgesCopy(edges, 'rebin');
  const ce = edgesCopy(coarseEdges, 'rebin');
  const { counts: c } = countsCopy(counts, 'counts', 'rebin');
  if (c.length !== e.length + 1) {
    throw new StatsInputError(
      `rebin: counts must have edges.length + 1 = ${e.length + 1} entries, got ${c.length}`,
    );
  }
  const out = new Float64Array(ce.length + 1);
  let j = 0; // number of coarse edges <= left end of the current fine cell
  out[0] = c[0] as number;
  for (let i = 1; i < c.length; i++) {
    const left = e[i - 1] as number;
    if (j < ce.length && (ce[j] as number) < left) {
      throw new StatsInputError(`rebin: coarse edge ${ce[j] as number} is not one of the fine edges`);
    }
    if (j < ce.length && (ce[j] as number) === left) j++;
    out[j] = (out[j] as number) + (c[i] as number);
  }
  if (j < ce.length) {
    throw new StatsInputError(`rebin: coarse edge ${ce[j] as number} is not one of the fine edges`);
  }
  return out;
}

interface PreparedGrid {
  e: Float64Array;
  r: Float64Array;
  c: Float64Array;
  nr: number;
  nc: number;
}

function prepareGrid(grid: GridCounts, fn: string, integer: boolean): PreparedGrid {
  if (grid === null || typeof grid !== 'object') throw new StatsInputError(`${fn}: grid must be an object`);
  const e = edgesCopy(grid.edges, fn);
  const r = countsCopy(grid.refCounts, 'refCounts', fn, integer);
  const c = countsCopy(grid.curCounts, 'curCounts', fn, integer);
  for (const [name, v] of [
    ['refCounts', r.counts],
    ['curCounts', c.counts],
  ] as const) {
    if (v.length !== e.length + 1) {
      throw new StatsInputError(
        `${fn}: ${name} must have edges.length + 1 = ${e.length + 1} entries, got ${v.length}`,
      );
    }
  }
  if (r.total <= 0) throw new StatsInputError(`${fn}: refCounts sum to zero`);
  if (c.total <= 0) throw new StatsInputError(`${fn}: curCounts sum to zero`);
  if (grid.onEdges && ((r.counts[0] as number) > 0 || (c.counts[0] as number) > 0)) {
    throw new StatsInputError(`${fn}: onEdges is set but cell 0 (below the first edge) is not empty`);
  }
  return { e, r: r.counts, c: c.counts, nr: r.total, nc: c.total };
}

export interface KsGridResult extends KsResult {
  /** Upper bound on the KS statistic of the raw samples (equal to `statistic` when `onEdges`). */
  statisticUpper: number;
  /** p-value at `statisticUpper`: the raw-data p-value lies in [pvalueLower, pvalue]. */
  pvalueLower: number;
  n1: number;
  n2: number;
}

/** Smallest multiple of 1/lcm(n1, n2) at or above d: every raw KS statistic |i/n1 − j/n2| is one. */
function ceilToLattice(d: number, n1: number, n2: number): number {
  let a = n1;
  let b = n2;
  while (b !== 0) [a, b] = [b, a % b];
  const lcm = (n1 / a) * n2;
  if (!Number.isSafeInteger(lcm)) return d;
  // The tolerance absorbs rounding in d, which is a sum of ratios.
  return Math.max(0, Math.ceil(d * lcm - 1e-7) / lcm);
}

/**
 * Two-sample KS test from grid counts, with n1 / n2 the count totals and scipy's p-value rules.
 * `statistic` is a lower bound on the raw statistic, exact when every value lies on an edge: the max over cell
 * boundaries of |R_i/n1 − C_i/n2| (cumulative counts) and, with `refSums` and `curSums`, over cells of
 * |mean of F_ref − F_cur over the cell|, which the sums give exactly (∫_a^b F = w·F(a⁻) + Σ_cell (b − v)/n) and
 * no cell's supremum is below; then rounded up to the lattice 1/lcm(n1, n2) every raw statistic lies on.
 * The raw statistic is at most `statisticUpper` = max over cells of the largest gap reachable inside the cell,
 * which is ≤ the boundary max + max cell mass.
 * `bounds: false` skips the p-value at `statisticUpper` (a second, often costly series): `pvalueLower` is
 * then NaN.
 */
export function ksFromGrid(
  grid: GridCounts,
  options: { method?: KsMethod; bounds?: boolean } = {},
): KsGridResult {
  const { e, r, c, nr, nc } = prepareGrid(grid, 'ksFromGrid', true);
  const cells = r.length;
  const rs = grid.refSums === undefined ? null : sumsCopy(grid.refSums, 'refSums', cells, 'ksFromGrid');
  const cs = grid.curSums === undefined ? null : sumsCopy(grid.curSums, 'curSums', cells, 'ksFromGrid');
  const sumError = grid.curSumError ?? 0;
  if (!(sumError >= 0 && sumError <= 1)) {
    throw new StatsInputError(`ksFromGrid: curSumError must be in [0, 1], got ${String(grid.curSumError)}`);
  }
  let cr = 0;
  let cc = 0;
  let d = 0;
  let inCell = 0;
  let upper = 0;
  for (let i = 0; i < cells; i++) {
    const prevR = cr / nr;
    const prevC = cc / nc;
    const mr = r[i] as number;
    const mc = c[i] as number;
    cr += mr;
    cc += mc;
    const fr = cr / nr;
    const fc = cc / nc;
    const diff = Math.abs(fr - fc);
    if (diff > d) d = diff;
    // A cell holding a single representable value cannot hide an excursion inside it.
    const singlePoint = i > 0 && i < cells - 1 && (e[i] as number) === nextUp(e[i - 1] as number);
    if (!grid.onEdges && !singlePoint && (mr > 0 || mc > 0)) {
      const inside = Math.max(fr - prevC, fc - prevR);
      if (inside > upper) upper = inside;
      const sr = rs && i > 0 && i < cells - 1 ? (rs[i] as number) : Number.NaN;
      const sc = cs && i > 0 && i < cells - 1 ? (cs[i] as number) : Number.NaN;
      if (!Number.isNaN(sr) && !Number.isNaN(sc)) {
        const left = e[i - 1] as number;
        const width = (e[i] as number) - left;
        // Share of each side's cell mass to the right of its values, averaged over the cell: (b − v)/w each.
        const rest = (m: number, sum: number) =>
          m > 0 ? Math.min(m, Math.max(0, m - (sum - m * left) / width)) : 0;
        const mean = Math.abs(prevR - prevC + rest(mr, sr) / nr - rest(mc, sc) / nc);
        // Float error of a sum of m values near the cell, in units of one value's position: m² · 4ε · |v| / w.
        const scale = (4 * Number.EPSILON * Math.max(Math.abs(left), Math.abs(e[i] as number))) / width;
        const slack = (mc * sumError + mc * mc * scale) / nc + (mr * mr * scale) / nr;
        const bound = mean - slack - 1e-12;
        if (bound > inCell) inCell = bound;
      }
    }
  }
  if (upper < d) upper = d;
  if (upper > 1) upper = 1;
  if (inCell > d) d = Math.max(d, Math.min(ceilToLattice(inCell, nr, nc), upper));
  const method = options.method === undefined ? {} : { method: options.method };
  const res = ksPvalue(d, nr, nc, method);
  if (options.bounds === false)
    return { ...res, statisticUpper: upper, pvalueLower: Number.NaN, n1: nr, n2: nc };
  const resUpper = upper === d ? res : ksPvalue(upper, nr, nc, method);
  return {
    statistic: res.statistic,
    pvalue: res.pvalue,
    method: res.method,
    statisticUpper: resUpper.statistic,
    pvalueLower: resUpper.pvalue,
    n1: nr,
    n2: nc,
  };
}

export interface WassersteinGridResult {
  /** Estimate of W1: exact when `onEdges`, otherwise assumes values spread uniformly within each cell. */
  distance: number;
  /** Guaranteed lower bound on the raw W1. */
  lower: number;
  /** Guaranteed upper bound on the raw W1 (Infinity if an outer cell has mass and min/max are not given). */
  upper: number;
}

function sumsCopy(
  values: NumericInput,
  name: string,
  length: number,
  fn = 'wassersteinFromGrid',
): Float64Array {
  if (values === null || typeof values !== 'object' || values.length !== length) {
    throw new StatsInputError(`${fn}: ${name} must have edges.length + 1 = ${length} entries`);
  }
  const out = Float64Array.from(values);
  for (let i = 0; i < out.length; i++) {
    const v = out[i] as number;
    if (!Number.isFinite(v) && !Number.isNaN(v)) {
      throw new StatsInputError(`${fn}: ${name}[${i}] is ${String(v)}; use NaN for unknown`);
    }
  }
  return out;
}

/** A single value in a cell is modelled as a point at its (known) position. */
const POINT_MAX = 1;

/**
 * In-cell model of one side as [t0, t1] (fractions of the cell width): a point (t0 = t1) at the mean for a
 * single value or a zero-width spread, else the widest uniform interval with that mean.
 */
function cellModel(m: number, sum: number, left: number, width: number): [number, number] {
  if (m === 0 || !(width > 0)) return [0, 0];
  const u = Math.min(1, Math.max(0, (sum / m - left) / width));
  if (m <= POINT_MAX || u < 1e-12) return [u, u];
  return u <= 0.5 ? [0, 2 * u] : [2 * u - 1, 1];
}

/** Share of a side's cell mass at or below t (just below t with `leftLimit`). */
function cellCdf(model: [number, number], t: number, leftLimit: boolean): number {
  const [t0, t1] = model;
  if (t1 === t0) return t > t0 || (t === t0 && !leftLimit) ? 1 : 0;
  return Math.min(1, Math.max(0, (t - t0) / (t1 - t0)));
}

/** Insertion sort, ascending; equal values keep their order (as Array.prototype.sort). */
function sortSix(a: Float64Array): void {
  for (let i = 1; i < a.length; i++) {
    const v = a[i] as number;
    let j = i - 1;
    while (j >= 0 && (a[j] as number) > v) {
      a[j + 1] = a[j] as number;
      j--;
    }
    a[j + 1] = v;
  }
}

/** ∫_0^1 |g0 + (g1 − g0) t| dt for the difference of two CDFs that are linear inside a cell. */
function absLinearIntegral(g0: number, g1: number): number {
  if ((g0 >= 0 && g1 >= 0) || (g0 <= 0 && g1 <= 0)) return Math.abs(g0 + g1) / 2;
  return (g0 * g0 + g1 * g1) / (2 * (Math.abs(g0) + Math.abs(g1)));
}

/**
 * 1-Wasserstein distance from grid counts. For cell i of width w_i the raw contribution is bracketed by the
 * smallest and largest |F_ref − F_cur| reachable inside the cell, so |distance − W1_raw| ≤ Σ w_i·(p_ref,i + p_cur,i)
 * ≤ 2·max w_i over non-empty cells; `lower` and `upper` are those rigorous brackets.
 */
export function wassersteinFromGrid(grid: GridCounts): WassersteinGridResult {
  const { e, r, c, nr, nc } = prepareGrid(grid, 'wassersteinFromGrid', false);
  const E = e.length;
  const lo = grid.min;
  const hi = grid.max;
  const outerLow = (r[0] as number) + (c[0] as number) > 0;
  const outerHigh = (r[E] as number) + (c[E] as number) > 0;
  if (lo !== undefined && (!Number.isFinite(lo) || (E > 0 && outerLow && lo >= (e[0] as number)))) {
    throw new StatsInputError(
      'wassersteinFromGrid: min must be finite and below edges[0] when cell 0 has values',
    );
  }
  if (hi !== undefined && (!Number.isFinite(hi) || (E > 0 && outerHigh && hi < (e[E - 1] as number)))) {
    throw new StatsInputError(
      'wassersteinFromGrid: max must be finite and >= the last edge when the last cell has values',
    );
  }
  const rs = grid.refSums === undefined ? null : sumsCopy(grid.refSums, 'refSums', E + 1);
  const cs = grid.curSums === undefined ? null : sumsCopy(grid.curSums, 'curSums', E + 1);
  let cr = 0;
  let cc = 0;
  let est = 0;
  let lower = 0;
  let upper = 0;
  const cuts = new Float64Array(6);
  for (let i = 0; i <= E; i++) {
    const ar = cr / nr;
    const ac = cc / nc;
    const mr = r[i] as number;
    const mc = c[i] as number;
    cr += mr;
    cc += mc;
    const br = cr / nr;
    const bc = cc / nc;
    if (grid.onEdges) {
      // Values sit on the left edge of their cell, so both CDFs are flat at their end values inside it.
      if (i >= 1 && i < E) est += Math.abs(br - bc) * ((e[i] as number) - (e[i - 1] as number));
      continue;
    }
    if (mr === 0 && mc === 0 && (i === 0 || i === E)) continue;
    let width: number;
    if (i === 0) width = lo === undefined ? Number.NaN : (e[0] as number) - lo;
    else if (i === E) width = hi === undefined ? Number.NaN : hi - (e[E - 1] as number);
    else width = (e[i] as number) - (e[i - 1] as number);
    const lowGap = Math.max(0, ar - bc, ac - br);
    const highGap = Math.max(br - ac, bc - ar);
    if (Number.isNaN(width)) {
      upper = Number.POSITIVE_INFINITY;
      continue;
    }
    const sr = rs ? (rs[i] as number) : Number.NaN;
    const sc = cs ? (cs[i] as number) : Number.NaN;
    if (i > 0 && i < E && !Number.isNaN(sr) && !Number.isNaN(sc)) {
      // Each side's mass and mean in the cell are known: model it as a point at the mean (exact for a single
      // value, or all values on the left edge) or as the widest uniform with that mean, and integrate
      // |F_ref − F_cur| piece by piece. The model keeps each side's ∫F over the cell exact, so a cell where
      // the difference keeps its sign contributes exactly; only crossings are estimated.
      const left = e[i - 1] as number;
      const rm = cellModel(mr, sr, left, width);
      const cm = cellModel(mc, sc, left, width);
      // Cut points in ascending order, sorted in place: this runs once per cell of every drift run.
      cuts[0] = 0;
      cuts[1] = 1;
      cuts[2] = rm[0];
      cuts[3] = rm[1];
      cuts[4] = cm[0];
      cuts[5] = cm[1];
      sortSix(cuts);
      for (let k = 1; k < cuts.length; k++) {
        const p0 = cuts[k - 1] as number;
        const p1 = cuts[k] as number;
        if (p1 > p0) {
          const g0 = ar + (mr * cellCdf(rm, p0, false)) / nr - ac - (mc * cellCdf(cm, p0, false)) / nc;
          const g1 = ar + (mr * cellCdf(rm, p1, true)) / nr - ac - (mc * cellCdf(cm, p1, true)) / nc;
          est += width * (p1 - p0) * absLinearIntegral(g0, g1);
        }
      }
    } else est += width * absLinearIntegral(ar - ac, br - bc);
    lower += width * lowGap;
    upper += width * highGap;
  }
  if (grid.onEdges) return { distance: est, lower: est, upper: est };
  return { distance: est, lower, upper };
}
