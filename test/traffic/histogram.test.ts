import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALPHA,
  BUCKETS,
  exactQuantile,
  fromBytes,
  GAMMA,
  histogramOf,
  lowerEdge,
  MAX_MS,
  MIN_MS,
  merge,
  quantile,
  representative,
  SLOTS,
  slotOf,
  toBytes,
  total,
  trim,
} from '../../src/traffic/histogram.js';

// The latency histogram (src/traffic/histogram.ts): every quantile of a histogram — of one batch, or of
// several merged — is within ALPHA = (γ−1)/(γ+1) of the exact quantile of the raw values, for values in
// [MIN_MS, MAX_MS).

// Latencies spread over the whole range on a log scale (0.01 ms … 10 min), and clustered ones (ties).
const latency = fc.oneof(
  fc.double({ min: Math.log(MIN_MS), max: Math.log(MAX_MS) - 1e-9, noNaN: true }).map(Math.exp),
  fc.constantFrom(0.01, 1, 1.02, 5, 100, 250.5, 1000),
  fc.double({ min: 1, max: 2000, noNaN: true }),
);
const batch = fc.array(latency, { minLength: 1, maxLength: 300 });
const qs = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

const sorted = (v: readonly number[]) => [...v].sort((a, b) => a - b);
const relErr = (est: number, exact: number) => Math.abs(est - exact) / exact;

describe('latency histogram', () => {
  it('has the documented layout', () => {
    expect(GAMMA).toBe(1.02);
    expect(BUCKETS).toBe(Math.ceil(Math.log(MAX_MS / MIN_MS) / Math.log(GAMMA)));
    expect(SLOTS).toBe(BUCKETS + 2);
    expect(ALPHA).toBeCloseTo(0.02 / 2.02, 12);
    expect(ALPHA).toBeLessThan(0.01);
    expect(lowerEdge(BUCKETS + 1)).toBeGreaterThanOrEqual(MAX_MS * (1 - 1e-12));
    expect(slotOf(0)).toBe(0);
    expect(slotOf(MIN_MS / 2)).toBe(0);
    expect(slotOf(MIN_MS)).toBe(1);
    expect(slotOf(MAX_MS)).toBe(BUCKETS + 1);
    expect(slotOf(1e9)).toBe(BUCKETS + 1);
  });

  it('puts every value in the slot whose edges hold it, edges included', () => {
    fc.assert(
      fc.property(latency, (v) => {
        const s = slotOf(v);
        expect(s).toBeGreaterThanOrEqual(1);
        expect(s).toBeLessThanOrEqual(BUCKETS);
        expect(v).toBeGreaterThanOrEqual(lowerEdge(s));
        if (s < BUCKETS) expect(v).toBeLessThan(lowerEdge(s + 1));
        expect(relErr(representative(s), v)).toBeLessThanOrEqual(ALPHA * (1 + 1e-9));
      }),
      { numRuns: 2000 },
    );
    for (let i = 1; i <= BUCKETS; i++) expect(slotOf(lowerEdge(i))).toBe(i);
  });

  it('estimates quantiles within ALPHA of the exact ones (linear interpolation, as NumPy)', () => {
    fc.assert(
      fc.property(batch, (values) => {
        const h = histogramOf(values);
        const s = sorted(values);
        for (const q of qs) {
          const exact = exactQuantile(s, q) as number;
          expect(relErr(quantile(h, q) as number, exact)).toBeLessThanOrEqual(ALPHA * (1 + 1e-9));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a merged histogram is the histogram of the union, so its quantiles keep the bound', () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 2, maxLength: 6 }), (batches) => {
        // Stored vectors are trimmed: merging vectors of different lengths must keep the longer tail.
        const merged = batches.map((b) => trim(histogramOf(b))).reduce(merge);
        const union = batches.flat();
        expect(Array.from(merged)).toEqual(Array.from(trim(histogramOf(union))));
        expect(total(merged)).toBe(union.length);
        const s = sorted(union);
        for (const q of qs) {
          const exact = exactQuantile(s, q) as number;
          expect(relErr(quantile(merged, q) as number, exact)).toBeLessThanOrEqual(ALPHA * (1 + 1e-9));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is accurate on a large log-normal sample (p50/p95/p99)', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const values = Array.from({ length: 50_000 }, () => Math.exp(Math.log(40) + 0.8 * normal()));
    const h = histogramOf(values);
    const s = sorted(values);
    for (const q of [0.5, 0.95, 0.99]) {
      expect(relErr(quantile(h, q) as number, exactQuantile(s, q) as number)).toBeLessThanOrEqual(ALPHA);
    }
  });

  it('handles the ends: empty, below the first edge, beyond the last', () => {
    expect(quantile(new Uint32Array(0), 0.5)).toBeNull();
    expect(quantile(histogramOf([0, 0, 0]), 0.5)).toBe(MIN_MS / 2);
    expect(quantile(histogramOf([1e7]), 0.99)).toBe(MAX_MS);
  });

  it('round-trips the little-endian uint32 bytes and trims trailing zeros only', () => {
    const h = trim(histogramOf([1, 2, 3, 1000]));
    expect(h.length).toBe(slotOf(1000) + 1);
    const bytes = toBytes(h);
    expect(bytes.length).toBe(4 * h.length);
    expect(bytes.readUInt32LE(4 * slotOf(1000))).toBe(1);
    expect(Array.from(fromBytes(bytes))).toEqual(Array.from(h));
    expect(trim(new Uint32Array(SLOTS)).length).toBe(0);
  });
});
