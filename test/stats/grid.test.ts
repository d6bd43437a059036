import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fineGrid,
  type GridCounts,
  histogram,
  ksFromGrid,
  ksTwoSample,
  nextUp,
  offEdgeCount,
  psi,
  quantileEdges,
  rebin,
  wasserstein,
  wassersteinFromGrid,
} from '../../src/stats/index.js';
import { normals, rng } from './helpers.js';

function minMax(...arrays: ArrayLike<number>[]): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i] as number;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { min, max };
}

function gridOf(
  edges: Float64Array,
  ref: ArrayLike<number>,
  cur: ArrayLike<number>,
  withRange = true,
): GridCounts {
  const onEdges = offEdgeCount(edges, ref) === 0 && offEdgeCount(edges, cur) === 0;
  return {
    edges,
    refCounts: histogram(edges, ref),
    curCounts: histogram(edges, cur),
    onEdges,
    ...(withRange ? minMax(ref, cur) : {}),
  };
}

/** Largest cell mass (as a fraction of its side's total) over both sides. */
function maxCellMass(g: GridCounts): number {
  const sum = (c: ArrayLike<number>) => Array.from(c).reduce((s, v) => s + v, 0);
  const nr = sum(g.refCounts);
  const nc = sum(g.curCounts);
  let m = 0;
  for (let i = 0; i < g.refCounts.length; i++) {
    m = Math.max(m, (g.refCounts[i] as number) / nr, (g.curCounts[i] as number) / nc);
  }
  return m;
}

/** Σ w_i (p_ref,i + p_cur,i) over the cells, outer cells closed by min/max: the documented W1 error bound. */
function wassersteinBound(g: GridCounts): number {
  const e = Array.from(g.edges);
  const sum = (c: ArrayLike<number>) => Array.from(c).reduce((s, v) => s + v, 0);
  const nr = sum(g.refCounts);
  const nc = sum(g.curCounts);
  let b = 0;
  for (let i = 0; i <= e.length; i++) {
    const lo = i === 0 ? (g.min as number) : (e[i - 1] as number);
    const hi = i === e.length ? (g.max as number) : (e[i] as number);
    b += (hi - lo) * ((g.refCounts[i] as number) / nr + (g.curCounts[i] as number) / nc);
  }
  return b;
}

function lognormals(n: number, seed: number, sigma: number): Float64Array {
  return normals(n, seed, 0, sigma).map(Math.exp);
}

function checkAgainstRaw(ref: Float64Array, cur: Float64Array, grid: GridCounts) {
  const raw = ksTwoSample(ref, cur);
  const g = ksFromGrid(grid);
  expect(g.n1).toBe(ref.length);
  expect(g.n2).toBe(cur.length);
  expect(g.statistic).toBeLessThanOrEqual(raw.statistic + 1e-12);
  expect(raw.statistic).toBeLessThanOrEqual(g.statisticUpper + 1e-12);
  expect(g.statisticUpper).toBeLessThanOrEqual(g.statistic + maxCellMass(grid) + 1e-12);
  expect(g.pvalueLower).toBeLessThanOrEqual(raw.pvalue * (1 + 1e-9));
  expect(raw.pvalue).toBeLessThanOrEqual(g.pvalue * (1 + 1e-9));

  const w = wasserstein(ref, cur);
  const gw = wassersteinFromGrid(grid);
  expect(gw.lower).toBeLessThanOrEqual(w * (1 + 1e-9) + 1e-12);
  expect(w).toBeLessThanOrEqual(gw.upper * (1 + 1e-9) + 1e-12);
  expect(Math.abs(gw.distance - w)).toBeLessThanOrEqual(wassersteinBound(grid) + 1e-12);
  return { raw, g, w, gw };
}

describe('fine grid variants against the raw computations', () => {
  it('heavy ties (integer feature): grid KS and Wasserstein are exact', async () => {
    const u = rng(7);
    const ref = Float64Array.from({ length: 5000 }, () => Math.floor(-Math.log(1 - u()) * 3));
    const cur = Float64Array.from({ length: 3000 }, () => Math.floor(-Math.log(1 - u()) * 3.6));
    const fg = fineGrid(ref);
    expect(fg.exact).toBe(true);
    // Current values the baseline never took would be off-grid; keep the ones on it for exactness.
    const seen = new Set(ref);
    const curOn = cur.filter((v) => seen.has(v));
    expect(offEdgeCount(fg.edges, cur)).toBe(cur.length - curOn.length);
    const grid = gridOf(fg.edges, ref, curOn);
    expect(grid.onEdges).toBe(true);
    const raw = ksTwoSample(ref, curOn);
    const g = ksFromGrid(grid);
    expect(g.statistic).toBe(raw.statistic);
    expect(g.pvalue).toBe(raw.pvalue);
    expect(g.method).toBe(raw.method);
    expect(g.statisticUpper).toBe(g.statistic);
    const gw = wassersteinFromGrid(grid);
    expect(Math.abs(gw.distance - wasserstein(ref, curOn))).toBeLessThanOrEqual(1e-12);
    expect(gw.lower).toBe(gw.distance);
    expect(gw.upper).toBe(gw.distance);
    // Same numbers for asymptotic p-values.
    expect(ksFromGrid(grid, { method: 'asymp' }).pvalue).toBe(
      ksTwoSample(ref, curOn, { method: 'asymp' }).pvalue,
    );
  });

  it('skewed continuous data (lognormal): bounds hold and are tight with 1000 cells', async () => {
    const ref = lognormals(20000, 11, 1.2);
    const cur = lognormals(8000, 12, 1.35);
    const fg = fineGrid(ref);
    expect(fg.exact).toBe(false);
    const { raw, g, w, gw } = checkAgainstRaw(ref, cur, gridOf(fg.edges, ref, cur));
    expect(raw.statistic - g.statistic).toBeLessThan(0.003);
    // The estimate's error is dominated by the few current values beyond the baseline maximum,
    // which the grid only knows to lie in [max(baseline), max].
    expect(Math.abs(gw.distance - w) / w).toBeLessThan(0.05);
  });

  it('without bounds: the same statistic and p-value, the bound not tested', () => {
    const ref = lognormals(20000, 11, 1.2);
    const cur = lognormals(8000, 12, 1.35);
    const grid = gridOf(fineGrid(ref).edges, ref, cur);
    const full = ksFromGrid(grid);
    expect(full.statisticUpper).toBeGreaterThan(full.statistic);
    expect(Number.isNaN(full.pvalueLower)).toBe(false);
    const fast = ksFromGrid(grid, { bounds: false });
    expect([fast.statistic, fast.pvalue, fast.method, fast.n1, fast.n2]).toEqual([
      full.statistic,
      full.pvalue,
      full.method,
      full.n1,
      full.n2,
    ]);
    expect(fast.statisticUpper).toBe(full.statisticUpper);
    expect(fast.pvalueLower).toBeNaN();
  });

  it('shifted normal data, including current values outside the baseline range', async () => {
    const ref = normals(12000, 21);
    const cur = normals(6000, 22, 0.8, 1.3);
    const fg = fineGrid(ref, { maxCells: 500 });
    const grid = gridOf(fg.edges, ref, cur);
    expect(grid.curCounts[0] as number).toBeGreaterThan(0);
    expect(grid.curCounts[fg.edges.length] as number).toBeGreaterThan(0);
    const { raw, g, w, gw } = checkAgainstRaw(ref, cur, grid);
    expect(raw.statistic - g.statistic).toBeLessThan(0.005);
    // Values beyond the baseline extremes are assumed uniform up to min/max, the main source of error here.
    expect(Math.abs(gw.distance - w) / w).toBeLessThan(0.03);
    // Without a min/max the outer cells are unbounded, which must show in the upper bound.
    expect(wassersteinFromGrid(gridOf(fg.edges, ref, cur, false)).upper).toBe(Number.POSITIVE_INFINITY);
  });

  it('heavy atoms inside continuous data are isolated in single-value cells', async () => {
    const u = rng(31);
    const mixed = (n: number, pZero: number, seed: number) => {
      const z = normals(n, seed);
      return z.map((v) => (u() < pZero ? 0 : Math.round(Math.exp(v) * 1000) / 100));
    };
    const ref = mixed(15000, 0.4, 41);
    const cur = mixed(9000, 0.25, 42);
    const fg = fineGrid(ref, { maxCells: 200 });
    expect(fg.exact).toBe(false);
    const zeroIdx = Array.from(fg.edges).indexOf(0);
    expect(zeroIdx).toBeGreaterThanOrEqual(0);
    expect(fg.edges[zeroIdx + 1]).toBe(nextUp(0));
    const grid = gridOf(fg.edges, ref, cur);
    const { raw, g } = checkAgainstRaw(ref, cur, grid);
    // The 40% atom is the biggest cell but cannot widen the KS bound.
    expect(maxCellMass(grid)).toBeGreaterThan(0.3);
    expect(g.statisticUpper - g.statistic).toBeLessThan(0.05);
    expect(raw.statistic).toBeGreaterThan(0.1);
  });

  it('bounds hold on arbitrary small samples and arbitrary grids (property)', async () => {
    const value = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -5, max: 5, noNaN: true }));
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 40 }),
        fc.array(value, { minLength: 1, maxLength: 40 }),
        fc.uniqueArray(fc.double({ min: -6, max: 6, noNaN: true }), {
          minLength: 1,
          maxLength: 8,
          comparator: 'SameValueZero',
        }),
        (a, b, cuts) => {
          const edges = Float64Array.from(cuts).sort();
          const A = Float64Array.from(a);
          const B = Float64Array.from(b);
          checkAgainstRaw(A, B, gridOf(edges, A, B));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Per-cell sums of the values (NaN for the two outer cells); with `steps`, positions rounded as ingest keeps them. */
function sumsOf(edges: Float64Array, values: ArrayLike<number>, steps = 0): Float64Array {
  const out = new Float64Array(edges.length + 1);
  out[0] = Number.NaN;
  out[edges.length] = Number.NaN;
  for (let k = 0; k < values.length; k++) {
    const v = values[k] as number;
    let i = 0;
    while (i < edges.length && (edges[i] as number) <= v) i++;
    if (i === 0 || i === edges.length) continue;
    const left = edges[i - 1] as number;
    const width = (edges[i] as number) - left;
    const u = (v - left) / width;
    const q = steps === 0 || u === 0 ? u : Math.max(1, Math.min(steps, Math.round(u * steps))) / steps;
    out[i] = (out[i] as number) + left + q * width;
  }
  return out;
}

describe('KS from grid counts with per-cell sums', () => {
  it('a cell whose values sit at opposite ends raises the statistic to its mean gap, never above the raw one', () => {
    const ref = Float64Array.from({ length: 10 }, (_, k) => 0.01 * (k + 1));
    const cur = Float64Array.from({ length: 10 }, (_, k) => 0.9 + 0.01 * k);
    const edges = Float64Array.from([0, 1]);
    const plain = gridOf(edges, ref, cur);
    expect(ksFromGrid(plain).statistic).toBe(0);
    const g = ksFromGrid({ ...plain, refSums: sumsOf(edges, ref), curSums: sumsOf(edges, cur) });
    const raw = ksTwoSample(ref, cur);
    // Mean gap over [0, 1): 0.945 − 0.055 = 0.89, rounded up to the lattice of tenths.
    expect(g.statistic).toBeCloseTo(0.9, 12);
    expect(g.statistic).toBeLessThanOrEqual(raw.statistic);
    expect(g.pvalue).toBeGreaterThanOrEqual(raw.pvalue);
  });

  it('stays a lower bound with exact and with rounded positions (property)', async () => {
    const value = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -5, max: 5, noNaN: true }));
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 40 }),
        fc.array(value, { minLength: 1, maxLength: 40 }),
        fc.uniqueArray(fc.double({ min: -6, max: 6, noNaN: true }), {
          minLength: 1,
          maxLength: 8,
          comparator: 'SameValueZero',
        }),
        (a, b, cuts) => {
          const edges = Float64Array.from(cuts).sort();
          const A = Float64Array.from(a);
          const B = Float64Array.from(b);
          const grid = gridOf(edges, A, B);
          const raw = ksTwoSample(A, B);
          const plain = ksFromGrid(grid);
          for (const steps of [0, 255, 3]) {
            const g = ksFromGrid({
              ...grid,
              refSums: sumsOf(edges, A),
              curSums: sumsOf(edges, B, steps),
              curSumError: steps === 0 ? 0 : 1 / steps,
            });
            expect(g.statistic).toBeLessThanOrEqual(raw.statistic + 1e-12);
            expect(g.statistic).toBeGreaterThanOrEqual(plain.statistic - 1e-12);
            expect(g.statistic).toBeLessThanOrEqual(g.statisticUpper + 1e-12);
            expect(raw.pvalue).toBeLessThanOrEqual(g.pvalue * (1 + 1e-9));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('fineGrid and rebin', () => {
  it('decile edges are grid edges and rebinned counts equal the direct histogram', async () => {
    for (const ref of [
      normals(3000, 5),
      lognormals(3000, 6, 2),
      Float64Array.from({ length: 999 }, (_, i) => i % 7),
    ]) {
      const cur = normals(1000, 9, 0.5);
      const fg = fineGrid(ref, { maxCells: 100 });
      expect(Array.from(fg.coarseEdges)).toEqual(Array.from(quantileEdges(ref)));
      const fine = histogram(fg.edges, cur);
      const coarse = rebin(fg.edges, fine, fg.coarseEdges);
      expect(Array.from(coarse)).toEqual(Array.from(histogram(fg.coarseEdges, cur)));
      const refCoarse = rebin(fg.edges, histogram(fg.edges, ref), fg.coarseEdges);
      expect(psi(refCoarse, coarse)).toBe(
        psi(histogram(fg.coarseEdges, ref), histogram(fg.coarseEdges, cur)),
      );
    }
  });

  it('few distinct values give an exact grid of those values plus the decile edges', async () => {
    const ref = [1, 1, 2, 2, 2, 3, 5, 5, 8];
    const fg = fineGrid(ref);
    expect(fg.exact).toBe(true);
    for (const v of [1, 2, 3, 5, 8]) expect(Array.from(fg.edges)).toContain(v);
    for (const v of fg.coarseEdges) expect(Array.from(fg.edges)).toContain(v);
    expect(offEdgeCount(fg.edges, ref)).toBe(0);
  });

  it('many distinct values: about maxCells cells, min and max are edges, strictly ascending', async () => {
    const ref = normals(50000, 77);
    const fg = fineGrid(ref, { maxCells: 1000 });
    expect(fg.edges.length).toBeLessThanOrEqual(1000 + 1 + 9);
    expect(fg.edges[0]).toBe(Math.min(...ref));
    expect(fg.edges[fg.edges.length - 1]).toBe(Math.max(...ref));
    for (let i = 1; i < fg.edges.length; i++)
      expect(fg.edges[i] as number).toBeGreaterThan(fg.edges[i - 1] as number);
  });

  it('nextUp returns the adjacent double', async () => {
    expect(nextUp(1)).toBe(1 + Number.EPSILON);
    expect(nextUp(0)).toBe(Number.MIN_VALUE);
    expect(nextUp(-1)).toBe(-1 + Number.EPSILON / 2);
  });
});
