import { describe, expect, it } from 'vitest';
import {
  cusum,
  cusumArl,
  hForArl0,
  meanOf,
  nullMoments,
  psi,
  psiNoiseThreshold,
  StatsInputError,
  siegmundArl,
  simulateRunLengths,
  standardiseStatistic,
} from '../../src/stats/index.js';

// Decile bins of a 50,000-row baseline and buckets of 2,000 records, as scripts/sim-arl.ts.
const baselineCounts = Array.from({ length: 10 }, () => 5000);
const n = 2000;
const nul = nullMoments(baselineCounts, n, { draws: 20_000, seed: 1 });

describe('CUSUM', () => {
  it('accumulates x − k, alarms above h, keeps the crossing in the path and restarts', () => {
    const { path, alarms } = cusum([1, 2, 3, 0, 0, -4, 2.5, 2.5, 2.5], { k: 0.5, h: 4 });
    expect(path.map((p) => p.upper)).toEqual([0.5, 2, 4.5, 0, 0, 0, 2, 4, 6]);
    expect(alarms).toEqual([2, 8]);
    expect(path[2]?.alarm).toBe(true);
    const two = cusum([-2, -2, -2], { k: 0.5, h: 4, side: 'two-sided' });
    expect(two.path.map((p) => p.lower)).toEqual([1.5, 3, 4.5]);
    expect(two.alarms).toEqual([2]);
  });

  it("Siegmund's approximation gives the issue's figures for k 0.5, h 5 and h round-trips from ARL₀", () => {
    expect(siegmundArl(0, 0.5, 5)).toBeCloseTo(938.2, 1);
    expect(Math.abs(cusumArl(0, 0.5, 5, 'two-sided') / 465 - 1)).toBeLessThan(0.01);
    expect(Math.abs(cusumArl(1, 0.5, 5, 'two-sided') / 10.4 - 1)).toBeLessThan(0.01);
    for (const side of ['upper', 'two-sided'] as const) {
      for (const arl0 of [100, 500, 10_000])
        expect(cusumArl(0, 0.5, hForArl0(arl0, 0.5, side), side)).toBeCloseTo(arl0, 6);
    }
  });

  it('null moments are reproducible from the seed and sit below the calibrated PSI threshold', () => {
    expect(nullMoments(baselineCounts, n, { draws: 500, seed: 3 })).toEqual(
      nullMoments(baselineCounts, n, { draws: 500, seed: 3 }),
    );
    // PSI ≈ χ²₉/n under the null: mean ≈ 9/n, sd ≈ √18/n.
    expect(Math.abs(nul.mean / (9 / n) - 1)).toBeLessThan(0.05);
    expect(Math.abs(nul.sd / (Math.sqrt(18) / n) - 1)).toBeLessThan(0.1);
    expect(nul.mean + 3 * nul.sd).toBeCloseTo(psiNoiseThreshold(baselineCounts, n, { samples: 20_000 }), 3);
  });

  it('the gamma score is N(0, 1) under the null; (x − mean)/sd is skewed', () => {
    // The statistic hook sees every resampled null PSI.
    const nullScores: number[] = [];
    const draws = nullMoments(baselineCounts, n, {
      draws: 4000,
      seed: 9,
      statistic: (r, c) => {
        const x = psi(r, c);
        nullScores.push(x);
        return x;
      },
    });
    expect(draws.draws).toBe(4000);
    const g = nullScores.map((x) => standardiseStatistic(x, nul));
    const m = nullScores.map((x) => standardiseStatistic(x, nul, 'moments'));
    const skew = (xs: number[]) => {
      const mu = meanOf(xs);
      const sd = Math.sqrt(meanOf(xs.map((x) => (x - mu) ** 2)));
      return meanOf(xs.map((x) => ((x - mu) / sd) ** 3));
    };
    expect(Math.abs(meanOf(g))).toBeLessThan(0.06);
    expect(Math.abs(Math.sqrt(meanOf(g.map((x) => x * x))) - 1)).toBeLessThan(0.05);
    expect(Math.abs(skew(g))).toBeLessThan(0.15);
    expect(skew(m)).toBeGreaterThan(0.6);
  });
});

describe('run lengths through the per-bucket path (reduced sim:arl; the full 1,000-stream run is npm run sim:arl)', () => {
  const base = { baselineCounts, n, nul, k: 0.5, h: 5, side: 'two-sided' as const, streams: 200 };

  it('ARL₀ at k 0.5, h 5 is within 25% of 469 over 200 null streams (run lengths are near-geometric: 7% standard error)', () => {
    const arl0 = meanOf(simulateRunLengths({ ...base, seed: 11 }));
    expect(Math.abs(arl0 / cusumArl(0, 0.5, 5, 'two-sided') - 1)).toBeLessThan(0.25);
  });

  it('a shift of one null sd is detected within 12% of the theoretical 10.3 buckets (200 streams, ~3% standard error)', () => {
    const delay = meanOf(simulateRunLengths({ ...base, seed: 12, shift: 1 }));
    expect(Math.abs(delay / cusumArl(1, 0.5, 5, 'two-sided') - 1)).toBeLessThan(0.12);
  });

  it('without the gamma score the skewed PSI fires an upper CUSUM far too often', () => {
    const upper = { ...base, side: 'upper' as const, streams: 100 };
    const target = cusumArl(0, 0.5, 5, 'upper');
    expect(meanOf(simulateRunLengths({ ...upper, seed: 13, method: 'moments' }))).toBeLessThan(0.6 * target);
  });
});

describe('bad input', () => {
  it('names the field and the reason', () => {
    expect(() => cusum([1], { h: 0 })).toThrow(/h must be a positive number/);
    expect(() => cusum([Number.NaN], { h: 5 })).toThrow(/x is NaN/);
    expect(() => hForArl0(1)).toThrow(/arl0 must be above 1/);
    expect(() => nullMoments([0, 0], 10)).toThrow(StatsInputError);
    expect(() => nullMoments([1, 1], 0)).toThrow(/n must be a positive integer/);
    expect(() => standardiseStatistic(0.1, { n: 1, mean: 0, sd: 0, draws: 2 })).toThrow(
      /null sd must be positive/,
    );
  });
});
