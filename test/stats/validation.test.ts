import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg,
  chiSquareContingency,
  fineGrid,
  histogram,
  jensenShannon,
  ksFromGrid,
  ksPvalue,
  ksTwoSample,
  kstwoSf,
  populationStd,
  psi,
  quantileEdges,
  rebin,
  StatsInputError,
  wasserstein,
  wassersteinFromGrid,
  wassersteinNormed,
} from '../../src/stats/index.js';

const bad: Array<[string, number[]]> = [
  ['empty', []],
  ['NaN', [1, Number.NaN, 2]],
  ['Infinity', [1, Number.POSITIVE_INFINITY]],
  ['-Infinity', [Number.NEGATIVE_INFINITY, 0]],
];

describe('input validation: clear errors, never a silent NaN', () => {
  it.each(bad)('%s samples are rejected', (_name, xs) => {
    const ok = [1, 2, 3];
    expect(() => ksTwoSample(xs, ok)).toThrow(StatsInputError);
    expect(() => ksTwoSample(ok, Float64Array.from(xs))).toThrow(StatsInputError);
    expect(() => wasserstein(xs, ok)).toThrow(StatsInputError);
    expect(() => wassersteinNormed(ok, xs)).toThrow(StatsInputError);
    expect(() => quantileEdges(xs)).toThrow(StatsInputError);
    expect(() => histogram([0], xs)).toThrow(StatsInputError);
    expect(() => fineGrid(xs)).toThrow(StatsInputError);
    expect(() => benjaminiHochberg(xs)).toThrow(StatsInputError);
    expect(() => psi(xs, ok)).toThrow(StatsInputError);
    expect(() => jensenShannon(ok, xs)).toThrow(StatsInputError);
    expect(() => chiSquareContingency(xs, ok)).toThrow(StatsInputError);
    expect(() => populationStd(xs)).toThrow(StatsInputError);
  });

  it('messages name the function and the offending element', async () => {
    expect(() => ksTwoSample([1, Number.NaN], [1])).toThrow(/ksTwoSample: a\[1\] is NaN/);
    expect(() => wasserstein([1], [])).toThrow(/wasserstein: b must be a non-empty array/);
  });

  it('count vectors: mismatched lengths, negatives, all-zero sides', async () => {
    expect(() => psi([1, 2], [1, 2, 3])).toThrow(StatsInputError);
    expect(() => psi([1, -2], [1, 2])).toThrow(StatsInputError);
    expect(() => psi([0, 0], [1, 2])).toThrow(StatsInputError);
    expect(() => jensenShannon([1, 2], [0, 0])).toThrow(StatsInputError);
    expect(() => chiSquareContingency([0, 0], [0, 0])).toThrow(StatsInputError);
    expect(() => psi([1, 2], [1, 2], { epsilon: 0 })).toThrow(StatsInputError);
  });

  it('parameters: bins, method, n, d, edges order', async () => {
    expect(() => quantileEdges([1, 2], 0)).toThrow(StatsInputError);
    expect(() => quantileEdges([1, 2], 2.5)).toThrow(StatsInputError);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid input
    expect(() => ksTwoSample([1], [2], { method: 'fast' as any })).toThrow(StatsInputError);
    expect(() => kstwoSf(0.1, 0)).toThrow(StatsInputError);
    expect(() => kstwoSf(0.1, 2.5)).toThrow(StatsInputError);
    expect(() => kstwoSf(Number.NaN, 10)).toThrow(StatsInputError);
    expect(() => ksPvalue(1.5, 10, 10)).toThrow(StatsInputError);
    expect(() => histogram([2, 1], [1])).toThrow(StatsInputError);
    expect(() => benjaminiHochberg([0.5, 1.5])).toThrow(StatsInputError);
  });

  it('grid inputs', async () => {
    const edges = [0, 1, 2];
    expect(() => ksFromGrid({ edges, refCounts: [0, 1, 1], curCounts: [0, 1, 1, 0] })).toThrow(
      StatsInputError,
    );
    expect(() => ksFromGrid({ edges, refCounts: [0, 1, 1, 0.5], curCounts: [0, 1, 1, 0] })).toThrow(
      /integers/,
    );
    expect(() => ksFromGrid({ edges, refCounts: [0, 0, 0, 0], curCounts: [0, 1, 1, 0] })).toThrow(
      StatsInputError,
    );
    expect(() =>
      ksFromGrid({ edges, refCounts: [1, 1, 0, 0], curCounts: [0, 1, 1, 0], onEdges: true }),
    ).toThrow(/cell 0/);
    expect(() =>
      wassersteinFromGrid({ edges, refCounts: [1, 1, 0, 0], curCounts: [0, 1, 1, 0], min: 0.5 }),
    ).toThrow(StatsInputError);
    expect(() => rebin(edges, [1, 2, 3, 4], [0.5])).toThrow(/not one of the fine edges/);
    expect(() => rebin(edges, [1, 2, 3, 4], [3])).toThrow(/not one of the fine edges/);
    expect(() => rebin(edges, [1, 2, 3], [1])).toThrow(StatsInputError);
  });
});

describe('documented edge cases', () => {
  it('a single shared category gives chi2 = 0, dof = 0, p = 1', async () => {
    expect(chiSquareContingency([5, 0], [7, 0])).toEqual({ statistic: 0, pvalue: 1, dof: 0 });
  });

  it('constant reference: wassersteinNormed divides by the 0.001 floor', async () => {
    expect(wassersteinNormed([2, 2, 2], [3, 3])).toBeCloseTo(1000, 9);
  });

  it('exact requests whose lattice exceeds int32 fall back to asymp like scipy', async () => {
    const a = Array.from({ length: 50000 }, (_, i) => i % 97);
    const b = Array.from({ length: 49999 }, (_, i) => (i * 7) % 101);
    expect(ksTwoSample(a, b, { method: 'exact' }).method).toBe('asymp');
  });

  it('typed arrays are accepted everywhere', async () => {
    const a = Float32Array.from([1, 2, 3, 4]);
    const b = Int32Array.from([2, 3, 4, 5, 6]);
    expect(ksTwoSample(a, b).statistic).toBeCloseTo(0.4, 12);
    expect(wasserstein(a, b)).toBeGreaterThan(0);
    expect(Array.from(histogram(Float64Array.from([2, 4]), b))).toEqual([0, 2, 3]);
  });
});
