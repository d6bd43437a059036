import { describe, expect, it } from 'vitest';
import { measureColumn } from '../../src/drift/evaluate.js';
import { addSlotted, createBinner, type Slotted } from '../../src/profiles/binner.js';
import { numericProfile } from '../../src/profiles/profile.js';
import { ksTwoSample, mulberry32, populationStd, wasserstein } from '../../src/stats/index.js';

// Drift measures of a window built the way ingest builds it (each value binned into the baseline's count
// vector, position sums included) against the raw computation, which the golden tests tie to scipy.

const normal = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const poisson = (r: () => number, lambda: number) => {
  let k = 0;
  let p = Math.exp(-lambda);
  let s = p;
  const u = r();
  while (u > s) {
    k++;
    p *= lambda / k;
    s += p;
  }
  return k;
};

function fromAggregate(base: number[], win: number[]) {
  const profile = numericProfile(Float64Array.from(base), 0);
  const binner = createBinner(profile);
  const counts = new Uint32Array(binner.slots);
  const s: Slotted = {
    slot: -1,
    missing: false,
    typeMismatch: false,
    outOfRange: false,
    unseen: false,
    offEdge: false,
    sumSlot: -1,
    sumAdd: 0,
  };
  let offEdge = 0;
  let vmin = Number.POSITIVE_INFINITY;
  let vmax = Number.NEGATIVE_INFINITY;
  for (const v of win) {
    vmin = Math.min(vmin, v);
    vmax = Math.max(vmax, v);
    binner.bin(v, s);
    addSlotted(counts, s);
    if (s.offEdge) offEdge++;
  }
  return measureColumn('x', profile, {
    n: win.length,
    missing: 0,
    typeMismatch: 0,
    outOfRange: 0,
    unseen: 0,
    offEdge,
    vmin,
    vmax,
    counts: Float64Array.from(counts),
  });
}

const rawNormed = (base: number[], win: number[]) => wasserstein(base, win) / populationStd(base);

describe('Wasserstein from bucket aggregates on heavy tails', () => {
  const r = mulberry32(7);
  const base = Array.from({ length: 50000 }, () => Math.exp(normal(r)));
  const cases: [number, number][] = [
    [2000, 1],
    [2000, 1],
    [2000, 1.05],
    [2000, 1.2],
    [20000, 1],
    [20000, 1.05],
    [20000, 1.2],
    [200000, 1],
    [200000, 1.05],
  ];
  for (const [i, [n, factor]] of cases.entries()) {
    it(`lognormal window ${i + 1} of ${n} values scaled by ${factor} is within 2% of the raw distance`, () => {
      const win = Array.from({ length: n }, () => Math.exp(normal(r)) * factor);
      const got = fromAggregate(base, win).wasserstein_normed as number;
      expect(Math.abs(got / rawNormed(base, win) - 1)).toBeLessThan(0.02);
    });
  }
});

describe('KS from bucket aggregates on lognormal windows', () => {
  const r = mulberry32(13);
  const base = Array.from({ length: 50000 }, () => Math.exp(normal(r)));
  const cases: [number, number[]][] = [
    [2000, [1, 1.06, 1.1, 1.15]],
    [20000, [1, 1.02, 1.04]],
    [200000, [1, 1.01, 1.015]],
  ];
  for (const [n, factors] of cases) {
    it(`windows of ${n} values scaled by ${factors.join(', ')}: never below the raw p-value, at most 35% above`, () => {
      for (const factor of factors) {
        const win = Array.from({ length: n }, () => Math.exp(normal(r)) * factor);
        const got = fromAggregate(base, win);
        const raw = ksTwoSample(base, win);
        expect(got.ks_statistic as number).toBeLessThanOrEqual(raw.statistic);
        expect(got.ks_pvalue as number).toBeGreaterThanOrEqual(raw.pvalue);
        if (raw.pvalue >= 1e-10) expect((got.ks_pvalue as number) / raw.pvalue).toBeLessThan(1.35);
      }
    });
  }
});

describe('integer features with values outside the baseline range', () => {
  const r = mulberry32(11);
  const base = Array.from({ length: 20000 }, () => poisson(r, 3));
  const max = base.reduce((a, b) => Math.max(a, b));
  for (const n of [2000, 200000]) {
    it(`one outlier 3 above the training maximum keeps a ${n}-value window exact`, () => {
      const win = Array.from({ length: n }, () => poisson(r, 3));
      win[0] = max + 3;
      const got = fromAggregate(base, win);
      const ks = ksTwoSample(base, win);
      expect(got.ks_statistic).toBe(ks.statistic);
      expect(got.ks_pvalue).toBe(ks.pvalue);
      expect(got.wasserstein_normed as number).toBeCloseTo(rawNormed(base, win), 12);
    });
    it(`a far, fractional outlier (1000.5) does not change the method for the other values (${n})`, () => {
      const win = Array.from({ length: n }, () => poisson(r, 3));
      win[0] = 1000.5;
      const got = fromAggregate(base, win);
      expect(got.ks_statistic).toBe(ksTwoSample(base, win).statistic);
      expect(Math.abs((got.wasserstein_normed as number) / rawNormed(base, win) - 1)).toBeLessThan(1e-3);
    });
  }
});
