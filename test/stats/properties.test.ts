import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg,
  chiSquareContingency,
  histogram,
  jensenShannon,
  ksTwoSample,
  kstwoSf,
  psi,
  quantileEdges,
  wasserstein,
} from '../../src/stats/index.js';

const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
// Small integer pools create many ties, which is where ECDF bookkeeping usually goes wrong.
const tied = fc.integer({ min: -3, max: 3 });
const sample = fc.oneof(
  fc.array(finite, { minLength: 1, maxLength: 60 }),
  fc.array(tied, { minLength: 1, maxLength: 60 }),
);
const counts = (len: number) => fc.array(fc.nat(50), { minLength: len, maxLength: len });
const countPair = fc
  .integer({ min: 1, max: 12 })
  .chain((len) => fc.tuple(counts(len), counts(len)))
  .filter(([r, c]) => r.some((v) => v > 0) && c.some((v) => v > 0));
const method = fc.constantFrom('auto' as const, 'exact' as const, 'asymp' as const);

describe('properties', () => {
  it('KS: D in [0,1] and p in [0,1] for every method', async () => {
    fc.assert(
      fc.property(sample, sample, method, (a, b, m) => {
        const r = ksTwoSample(a, b, { method: m });
        expect(r.statistic).toBeGreaterThanOrEqual(0);
        expect(r.statistic).toBeLessThanOrEqual(1);
        expect(r.pvalue).toBeGreaterThanOrEqual(0);
        expect(r.pvalue).toBeLessThanOrEqual(1);
      }),
      { numRuns: 400 },
    );
  });

  it('KS: identical samples give D = 0 and p = 1', async () => {
    fc.assert(
      fc.property(sample, method, (a, m) => {
        const shuffled = [...a].reverse();
        const r = ksTwoSample(a, shuffled, { method: m });
        expect(r.statistic).toBe(0);
        expect(r.pvalue).toBe(1);
      }),
    );
  });

  it('KS: symmetric in its arguments', async () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const x = ksTwoSample(a, b);
        const y = ksTwoSample(b, a);
        expect(y.statistic).toBe(x.statistic);
        expect(y.pvalue).toBe(x.pvalue);
      }),
    );
  });

  it('kstwoSf stays in [0,1]', async () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 200000 }), (d, n) => {
        const p = kstwoSf(d, n);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('PSI is >= 0 and symmetric', async () => {
    fc.assert(
      fc.property(countPair, ([r, c]) => {
        const ab = psi(r, c);
        const ba = psi(c, r);
        expect(ab).toBeGreaterThanOrEqual(0);
        expect(Math.abs(ab - ba)).toBeLessThanOrEqual(1e-12 * Math.max(1, ab));
      }),
    );
  });

  it('Jensen–Shannon distance is in [0,1], symmetric, 0 on identical proportions', async () => {
    fc.assert(
      fc.property(countPair, ([r, c]) => {
        const js = jensenShannon(r, c);
        expect(js).toBeGreaterThanOrEqual(0);
        expect(js).toBeLessThanOrEqual(1 + 1e-12);
        expect(Math.abs(js - jensenShannon(c, r))).toBeLessThanOrEqual(1e-12);
        expect(
          jensenShannon(
            r,
            r.map((v) => 3 * v),
          ),
        ).toBeLessThanOrEqual(1e-7);
      }),
    );
  });

  it('chi-square p-value in [0,1] and dof = non-empty categories - 1', async () => {
    fc.assert(
      fc.property(countPair, ([r, c]) => {
        const res = chiSquareContingency(r, c);
        const k = r.filter((v, i) => v + (c[i] as number) > 0).length;
        expect(res.dof).toBe(k - 1);
        expect(res.statistic).toBeGreaterThanOrEqual(0);
        expect(res.pvalue).toBeGreaterThanOrEqual(0);
        expect(res.pvalue).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('histogram counts sum to n and follow searchsorted(side=right)', async () => {
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: 1, max: 12 }), (ref, values, bins) => {
        const edges = quantileEdges(ref, bins);
        for (let i = 1; i < edges.length; i++)
          expect(edges[i] as number).toBeGreaterThan(edges[i - 1] as number);
        const h = histogram(edges, values);
        expect(h.length).toBe(edges.length + 1);
        expect(h.reduce((s, v) => s + v, 0)).toBe(values.length);
        const x = values[0] as number;
        const bin = Array.from(edges).filter((e) => e <= x).length;
        expect(h[bin]).toBeGreaterThan(0);
      }),
    );
  });

  it('Benjamini–Hochberg: monotone in the raw order, >= raw, <= 1', async () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 80 }),
        (p) => {
          const adj = benjaminiHochberg(p);
          const order = p.map((_, i) => i).sort((x, y) => (p[x] as number) - (p[y] as number));
          for (let k = 0; k < p.length; k++) {
            const i = order[k] as number;
            expect(adj[i] as number).toBeGreaterThanOrEqual(p[i] as number);
            expect(adj[i] as number).toBeLessThanOrEqual(1);
            if (k > 0) expect(adj[i] as number).toBeGreaterThanOrEqual(adj[order[k - 1] as number] as number);
          }
        },
      ),
    );
  });

  it('Wasserstein is >= 0, symmetric and 0 on identical samples', async () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const w = wasserstein(a, b);
        expect(w).toBeGreaterThanOrEqual(0);
        expect(Math.abs(w - wasserstein(b, a))).toBeLessThanOrEqual(1e-9 * Math.max(1, w));
        expect(wasserstein(a, [...a].reverse())).toBe(0);
      }),
    );
  });
});
