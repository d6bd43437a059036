import { edgesCopy, finiteCopy, type NumericInput, StatsInputError, sortedCopy } from './validate.js';

/**
 * Quantile of an ascending array with numpy's default 'linear' method (Hyndman–Fan type 7).
 * The interpolation mirrors numpy's two-sided lerp so results are bit-identical.
 */
export function quantileSorted(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  const virtual = (n - 1) * q;
  if (virtual >= n - 1) return sorted[n - 1] as number;
  if (virtual <= 0) return sorted[0] as number;
  const lo = Math.floor(virtual);
  const gamma = virtual - lo;
  const a = sorted[lo] as number;
  const b = sorted[lo + 1] as number;
  const diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/**
 * Interior quantile cut points of an already sorted array, de-duplicated. The probabilities are
 * k · (1/bins), i.e. numpy.linspace(0, 1, bins + 1)[1:-1], bit for bit (3 · 0.1 ≠ 0.3 in binary).
 */
export function quantileEdgesSorted(sorted: Float64Array, bins: number): Float64Array {
  const out: number[] = [];
  const step = 1 / bins;
  for (let k = 1; k < bins; k++) {
    // -0 and +0 are the same cut point; report +0 as numpy does.
    const v = quantileSorted(sorted, k * step) + 0;
    if (out.length === 0 || v !== out[out.length - 1]) out.push(v);
  }
  return Float64Array.from(out);
}

/**
 * Interior cut points at quantiles 1/bins … (bins-1)/bins of `values` (numpy linear interpolation),
 * duplicates removed, ascending. `bins = 1` yields no edges.
 */
export function quantileEdges(values: NumericInput, bins = 10): Float64Array {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new StatsInputError(`quantileEdges: bins must be a positive integer, got ${bins}`);
  }
  return quantileEdgesSorted(sortedCopy(values, 'values', 'quantileEdges'), bins);
}

/** Number of edges <= x, i.e. numpy `searchsorted(edges, x, side='right')`. */
export function upperBound(edges: Float64Array, x: number): number {
  // Fixed-trip binary search: the data-dependent step is a select rather than a branch,
  // which keeps it fast on random input.
  let base = 0;
  let len = edges.length;
  while (len > 1) {
    const half = len >>> 1;
    base = (edges[base + half - 1] as number) <= x ? base + half : base;
    len -= half;
  }
  return len === 1 && (edges[base] as number) <= x ? base + 1 : base;
}

/**
 * Counts of `values` per bin: length `edges.length + 1`, bin i = [edges[i-1], edges[i]),
 * bin 0 = (-inf, edges[0]) and the last bin = [edges[last], +inf).
 */
export function histogram(edges: NumericInput, values: NumericInput): Float64Array {
  const e = edgesCopy(edges, 'histogram');
  const counts = new Float64Array(e.length + 1);
  const n = values.length;
  if (n === 0) throw new StatsInputError('histogram: values must be a non-empty array of finite numbers');
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      throw new StatsInputError(`histogram: values[${i}] is ${String(v)}; only finite numbers are accepted`);
    }
    const idx = upperBound(e, v);
    counts[idx] = (counts[idx] as number) + 1;
  }
  return counts;
}

/** Number of `values` that are not exactly equal to one of `edges` (0 means the grid is exact for them). */
export function offEdgeCount(edges: NumericInput, values: NumericInput): number {
  const e = edgesCopy(edges, 'offEdgeCount');
  const v = finiteCopy(values, 'values', 'offEdgeCount');
  let off = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    const idx = upperBound(e, x);
    if (idx === 0 || e[idx - 1] !== x) off++;
  }
  return off;
}
