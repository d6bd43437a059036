import { describe, expect, it } from 'vitest';
import {
  addRow,
  BASELINE_CHUNKS,
  type BaselinePca,
  baselineChunks,
  baselineHalves,
  baselinePca,
  benjaminiHochberg,
  type CoMoments,
  coCorrelation,
  coCovariance,
  coMean,
  coMomentsFromVector,
  coMomentsOf,
  coMomentsToVector,
  correlationChanges,
  correlationNull,
  emptyCoMoments,
  histogram,
  ksTwoSample,
  mergeCoMoments,
  psi,
  psiNoiseThreshold,
  quantileEdges,
  reconstructionError,
  reconstructionNull,
  StatsInputError,
  standardise,
  symmetricEigen,
} from '../../src/stats/index.js';
import { expectAbs, loadJson, normals, rng } from './helpers.js';

type Row = Array<number | null>;
interface Case {
  baseline: Row[];
  window: Row[];
  mean: number[];
  sd: number[];
  windowMissing: number[];
  windowMean: number[];
  windowCov: number[];
  windowCorr: number[];
  baselineSecondMoment: number[];
  eigenvalues: number[];
  kept: number;
  reconstructionError: number;
  nullMean: number;
  nullSd: number;
  threshold: number;
  pairs: Array<{ i: number; j: number; baseline: number; window: number; z: number; pvalue: number }>;
}

// numpy/scipy computed on the raw rows (see gen-multivariate-golden.py).
const golden = loadJson<{ cases: Case[] }>('./multivariate-golden.json');

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expectAbs(actual[i] as number, expected[i] as number, tol);
}

/** Rows of d features: N(0,1) marginals, features 0 and 1 correlated at rho, the rest independent. */
function rows(n: number, d: number, rho: number, seed: number): number[][] {
  const z = normals(n * d, seed);
  const out: number[][] = [];
  for (let r = 0; r < n; r++) {
    const row = Array.from(z.subarray(r * d, (r + 1) * d));
    row[1] = rho * (row[0] as number) + Math.sqrt(1 - rho * rho) * (row[1] as number);
    out.push(row);
  }
  return out;
}

function column(data: number[][], j: number): number[] {
  return data.map((r) => r[j] as number);
}

function moments(data: number[][]) {
  const d = (data[0] as number[]).length;
  const mean = Array.from({ length: d }, (_, j) => column(data, j).reduce((a, b) => a + b, 0) / data.length);
  const sd = mean.map((m, j) =>
    Math.sqrt(column(data, j).reduce((a, b) => a + (b - m) ** 2, 0) / data.length),
  );
  return { mean, sd };
}

describe('co-moments from sums equal the raw-row computation', () => {
  it.each(golden.cases.map((c, i) => [i, c] as const))('numpy case %s', (_i, c) => {
    const base = coMomentsOf(c.baseline, c);
    const halves = baselineHalves(c.baseline, c);
    const win = coMomentsOf(c.window, c);
    expect(win.missing).toEqual(c.windowMissing);
    expectClose(coMean(win), c.windowMean, 1e-9);
    expectClose(coCovariance(win), c.windowCov, 1e-9);
    expectClose(coCorrelation(win), c.windowCorr, 1e-9);
    const pca = baselinePca(halves.fit, halves.calibration);
    expect(pca.components.length).toBe(c.kept);
    expectClose(pca.c, c.baselineSecondMoment, 1e-9);
    expectClose(pca.eigenvalues, c.eigenvalues, 1e-9);
    expectAbs(reconstructionError(pca, win), c.reconstructionError, 1e-9);
    const nul = reconstructionNull(pca, win.n);
    expectAbs(nul.mean, c.nullMean, 1e-9);
    expectAbs(nul.sd, c.nullSd, 1e-9);
    expectAbs(nul.threshold, c.threshold, 1e-9);
    const pairs = correlationChanges(base, win);
    expect(pairs.map((p) => [p.i, p.j])).toEqual(c.pairs.map((p) => [p.i, p.j]));
    pairs.forEach((p, k) => {
      const ref = c.pairs[k] as Case['pairs'][number];
      expectAbs(p.baseline, ref.baseline, 1e-9);
      expectAbs(p.window, ref.window, 1e-9);
      expectAbs(p.z, ref.z, 1e-9);
      expect(Math.abs(p.pvalue - ref.pvalue)).toBeLessThanOrEqual(1e-9 * Math.max(ref.pvalue, 1e-12));
    });
  });

  it('reconstruction error equals the mean squared residual of the rows, each projected directly', () => {
    const data = rows(3000, 6, 0.7, 11);
    const st = moments(data);
    const { fit, calibration } = baselineHalves(data, st);
    const pca = baselinePca(fit, calibration);
    const win = rows(500, 6, -0.3, 12).map((r) => r.map((v) => 2 * v + 0.5));
    let direct = 0;
    for (const row of win) {
      const { z } = standardise(row, st);
      const resid = Array.from(z);
      for (const v of pca.components) {
        const dot = resid.reduce((a, x, i) => a + x * (v[i] as number), 0);
        for (let i = 0; i < resid.length; i++) resid[i] = (resid[i] as number) - dot * (v[i] as number);
      }
      direct += resid.reduce((a, x) => a + x * x, 0);
    }
    expectAbs(reconstructionError(pca, coMomentsOf(win, st)), direct / win.length, 1e-9);
  });

  it('merging buckets equals accumulating their union, also through the stored vector', () => {
    const data = rows(900, 4, 0.5, 3).map(
      (r, k): Row => (k % 7 === 0 ? [r[0] ?? 0, null, r[2] ?? 0, r[3] ?? 0] : r),
    );
    const st = { mean: [0.1, -0.2, 0, 1], sd: [1, 2, 0.5, 3] };
    const whole = coMomentsOf(data, st);
    const a = coMomentsOf(data.slice(0, 300), st);
    const b = coMomentsOf(data.slice(300), st);
    const merged = mergeCoMoments(a, b);
    expect(merged.n).toBe(900);
    expect(merged.missing).toEqual([0, 129, 0, 0]);
    expectClose(merged.sum, whole.sum, 1e-9);
    expectClose(merged.sumsq, whole.sumsq, 1e-9);
    // Stored as float64 vectors: adding them elementwise (dimension aside) is the merge.
    const va = coMomentsToVector(a);
    const vb = coMomentsToVector(b);
    const added = va.map((v, i) => (i === 0 ? v : v + (vb[i] as number)));
    const back = coMomentsFromVector(added);
    expect(back.n).toBe(900);
    expectClose(back.sumsq, whole.sumsq, 1e-9);
  });

  it('Jacobi eigen solver: A = VΛVᵀ with orthonormal V at d = 100', () => {
    const d = 100;
    const u = rng(5);
    const m = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const v = u() - 0.5;
        m[i * d + j] = v;
        m[j * d + i] = v;
      }
    }
    const { values, vectors } = symmetricEigen(m, d);
    for (let k = 1; k < d; k++) expect(values[k] as number).toBeLessThanOrEqual(values[k - 1] as number);
    let worst = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let a = 0;
        let dot = 0;
        for (let k = 0; k < d; k++) {
          a +=
            (values[k] as number) *
            ((vectors[k] as Float64Array)[i] as number) *
            ((vectors[k] as Float64Array)[j] as number);
          dot += ((vectors[i] as Float64Array)[k] as number) * ((vectors[j] as Float64Array)[k] as number);
        }
        worst = Math.max(worst, Math.abs(a - (m[i * d + j] as number)), Math.abs(dot - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-12);
  });
});

/** Univariate and joint decision for one bucket, as the drift step would make it (BH at q ≤ 0.05). */
function decide(
  baseline: number[][],
  window: number[][],
  st: { mean: number[]; sd: number[] },
  base: CoMoments,
  pca: BaselinePca,
) {
  const d = st.mean.length;
  const ks = Array.from({ length: d }, (_, j) => ksTwoSample(column(baseline, j), column(window, j)).pvalue);
  const win = coMomentsOf(window, st);
  const pairs = correlationChanges(base, win);
  const q = benjaminiHochberg([...ks, ...pairs.map((p) => p.pvalue)]);
  const univariate = ks.filter((_, j) => (q[j] as number) <= 0.05).length;
  const flaggedPairs = pairs.filter((p, k) => p.large && (q[d + k] as number) <= 0.05);
  const err = reconstructionError(pca, win);
  const thr = reconstructionNull(pca, win.n).threshold;
  return { ks, pairs, univariate, flaggedPairs, err, thr };
}

describe('joint shift detection', () => {
  const baseline = rows(20_000, 4, 0.8, 101);
  const st = moments(baseline);
  const base = coMomentsOf(baseline, st);
  const halves = baselineHalves(baseline, st);
  const pca = baselinePca(halves.fit, halves.calibration);

  it('flags a correlation flip 0.8 → −0.8 with unchanged N(0,1) marginals in one bucket of 2,000, univariate tests silent', () => {
    const window = rows(2000, 4, -0.8, 202);
    const r = decide(baseline, window, st, base, pca);
    // Every marginal is unchanged: KS after BH flags nothing, PSI stays under its sampling-noise threshold.
    expect(r.univariate).toBe(0);
    for (let j = 0; j < 4; j++) {
      const edges = quantileEdges(column(baseline, j));
      const ref = histogram(edges, column(baseline, j));
      expect(psi(ref, histogram(edges, column(window, j)))).toBeLessThan(psiNoiseThreshold(ref, 2000));
    }
    const pair = r.pairs.find((p) => p.i === 0 && p.j === 1);
    expect(pair?.pvalue).toBeLessThan(1e-6);
    expect(Math.abs(pair?.delta ?? 0)).toBeGreaterThanOrEqual(0.2);
    expect(r.flaggedPairs.map((p) => [p.i, p.j])).toEqual([[0, 1]]);
    expect(r.err).toBeGreaterThan(r.thr);
  });

  it('raises nothing over 100 null buckets of 2,000 records', () => {
    let univariate = 0;
    let pairs = 0;
    let recon = 0;
    for (let b = 0; b < 100; b++) {
      const r = decide(baseline, rows(2000, 4, 0.8, 1000 + b), st, base, pca);
      univariate += r.univariate;
      pairs += r.flaggedPairs.length;
      if (r.err > r.thr) recon++;
    }
    expect({ pairs, recon }).toEqual({ pairs: 0, recon: 0 });
    // Not part of the multivariate claim; BH at 5% over 100 buckets may flag a marginal now and then.
    expect(univariate).toBeLessThanOrEqual(10);
  });

  it.each([30, 300, 1000])(
    'the analytic threshold holds its false-alarm rate at n = %s (2,000 null windows at alpha 0.05)',
    (n) => {
      // Calibrated on the exact population second moments, so what is checked is the Satterthwaite quantile
      // itself: a finite calibration half moves the rate of one given baseline by about √(2n/n′) null sd.
      const st = { mean: [0, 0, 0, 0], sd: [1, 1, 1, 1] };
      const exact = emptyCoMoments(4);
      exact.n = 1e12;
      exact.sumsq = [1, 0.8, 0, 0, 1, 0, 0, 1, 0, 1].map((v) => v * 1e12);
      const pca0 = baselinePca(baselineHalves(rows(20_000, 4, 0.8, 7), st).fit, exact);
      const thr = reconstructionNull(pca0, n, { alpha: 0.05 }).threshold;
      const windows = 2000;
      let alarms = 0;
      for (let w = 0; w < windows; w++) {
        if (reconstructionError(pca0, coMomentsOf(rows(n, 4, 0.8, 50_000 + w), st)) > thr) alarms++;
      }
      // Binomial sd at 5% over 2,000 windows is 0.49%; allow 3.5 sd.
      expect(Math.abs(alarms / windows - 0.05)).toBeLessThanOrEqual(0.017);
    },
  );
});

/**
 * Pairs with a shared random scale s = exp(0.8g): x = u·s, y = (0.5u + 0.87v)·s, w = N(0,1). Every moment is
 * finite, but n·Var(r) of (x, y) is about E[s⁴]/E[s²]² ≈ 13× what the Fisher test assumes for normal pairs.
 */
function scaled(n: number, seed: number): number[][] {
  const z = normals(n * 4, seed);
  return Array.from({ length: n }, (_, r) => {
    const [u, v, g, w] = Array.from(z.subarray(r * 4, r * 4 + 4));
    const s = Math.exp(0.8 * (g as number));
    return [(u as number) * s, (0.5 * (u as number) + 0.87 * (v as number)) * s, w as number];
  });
}

function sdOf(values: number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / (values.length - 1));
}

describe('nulls measured on chunks of the baseline', () => {
  const baseline = scaled(20_000, 31);
  const st = moments(baseline);
  const chunks = baselineChunks(baseline, st);
  const all = coMomentsOf(baseline, st);
  const halves = baselineHalves(baseline, st);

  it('the chunks are the halves: even chunks sum to the fit half, odd ones to the calibration half', () => {
    expect(chunks).toHaveLength(BASELINE_CHUNKS);
    const merged = (parity: number) =>
      chunks.filter((_, k) => k % 2 === parity).reduce((a, b) => mergeCoMoments(a, b));
    for (const [got, want] of [
      [merged(0), halves.fit],
      [merged(1), halves.calibration],
    ] as const) {
      expect(got.n).toBe(want.n);
      expectClose(got.sumsq, want.sumsq, 1e-9);
      expectClose(got.sum, want.sum, 1e-9);
    }
  });

  it('widens the Fisher variance of a heavy-tailed pair so its null z has sd ≈ 1 (normal theory: ≈ 3.6)', () => {
    const nul = correlationNull(chunks);
    const f = nul.factor[1] as number; // (0, 1) in the packed triangle
    expect(f).toBeGreaterThan(6);
    expect(f).toBeLessThan(30);
    // The independent normal w pairs keep a factor near 1.
    expect(nul.factor[2] as number).toBeLessThan(2);
    const robust: number[] = [];
    const fisher: number[] = [];
    for (let w = 0; w < 200; w++) {
      const win = coMomentsOf(scaled(1000, 500 + w), st);
      robust.push((correlationChanges(all, win, { nul })[0] as { z: number }).z);
      fisher.push((correlationChanges(all, win)[0] as { z: number }).z);
    }
    expect(sdOf(fisher)).toBeGreaterThan(2.5);
    expect(sdOf(robust)).toBeGreaterThan(0.5);
    expect(sdOf(robust)).toBeLessThan(1.2);
  });

  it('the reconstruction threshold from the calibration chunks holds its rate where the Gaussian one does not', () => {
    const gaussian = baselinePca(halves.fit, halves.calibration);
    const robust = baselinePca(halves.fit, halves.calibration, {
      chunks: chunks.filter((_, k) => k % 2 === 1),
    });
    expect(robust.chunkVariance as number).toBeGreaterThan(2 * robust.residualSquare);
    const n = 1000;
    const windows = 400;
    let gaussianAlarms = 0;
    let robustAlarms = 0;
    for (let w = 0; w < windows; w++) {
      const win = coMomentsOf(scaled(n, 9000 + w), st);
      if (reconstructionError(gaussian, win) > reconstructionNull(gaussian, n, { alpha: 0.01 }).threshold)
        gaussianAlarms++;
      if (reconstructionError(robust, win) > reconstructionNull(robust, n, { alpha: 0.01 }).threshold)
        robustAlarms++;
    }
    expect(gaussianAlarms / windows).toBeGreaterThan(0.05);
    expect(robustAlarms / windows).toBeLessThanOrEqual(0.02);
  });

  it('clips a value into the standardisation bounds before standardising', () => {
    const bounded = { mean: [0, 10], sd: [1, 2], lower: [-3, Number.NEGATIVE_INFINITY], upper: [3, 14] };
    expect(Array.from(standardise([-50, 100], bounded).z)).toEqual([-3, 2]);
    expect(Array.from(standardise([1, 12], bounded).z)).toEqual([1, 1]);
    expect(() => standardise([1, 1], { mean: [0, 0], sd: [1, 1], upper: [1] })).toThrow(
      /upper must have 2 entries/,
    );
  });
});

describe('bad input', () => {
  it('names the field and the reason', () => {
    expect(() => standardise([1, 2], { mean: [0, 0], sd: [1, 0] })).toThrow(
      /sd\[1\] is 0; it must be positive/,
    );
    expect(() => standardise([1], { mean: [0, 0], sd: [1, 1] })).toThrow(/row must have 2 values/);
    expect(() => emptyCoMoments(101)).toThrow(StatsInputError);
    expect(() => mergeCoMoments(emptyCoMoments(2), emptyCoMoments(3))).toThrow(/dimensions differ/);
    expect(() => coMomentsFromVector([2, 5, 0, 0])).toThrow(/dim 2 has 9 entries, got 4/);
    const one = addRow(emptyCoMoments(2), [1, 2], { mean: [0, 0], sd: [1, 1] });
    expect(() => baselinePca(one, one)).toThrow(/at least 2 rows/);
    expect(() => correlationChanges(emptyCoMoments(2), emptyCoMoments(2))).toThrow(/at least 4 rows, got 0/);
  });
});
