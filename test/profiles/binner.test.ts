import { describe, expect, it } from 'vitest';
import {
  addSlotted,
  type ColumnBinner,
  type ColumnSink,
  createBinner,
  type Slotted,
} from '../../src/profiles/binner.js';
import type { ColumnProfile } from '../../src/profiles/profile.js';
import { numericProfile } from '../../src/profiles/profile.js';
import { mulberry32 } from '../../src/stats/index.js';

// Ingest bins a run of records column by column (binColumn); drift numbers rest on it adding exactly what
// binning each value alone (bin + addSlotted) adds, tallies and min/max included, whatever the values are.

const emptySink = (slots: number): ColumnSink => ({
  counts: new Uint32Array(slots),
  n: 0,
  missing: 0,
  typeMismatch: 0,
  outOfRange: 0,
  unseen: 0,
  offEdge: 0,
  vmin: null,
  vmax: null,
});

/** What value-by-value binning adds, as AggregateBatch did before runs. */
function oneByOne(binner: ColumnBinner, values: unknown[], sink: ColumnSink): void {
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
  for (const value of values) {
    binner.bin(value, s);
    if (s.slot >= 0) {
      sink.n++;
      addSlotted(sink.counts, s);
      if (typeof value === 'number') {
        if (sink.vmin === null || value < sink.vmin) sink.vmin = value;
        if (sink.vmax === null || value > sink.vmax) sink.vmax = value;
      }
    }
    if (s.offEdge) sink.offEdge++;
    if (s.missing) sink.missing++;
    if (s.typeMismatch) sink.typeMismatch++;
    if (s.outOfRange) sink.outOfRange++;
    if (s.unseen) sink.unseen++;
  }
}

function check(profile: ColumnProfile, values: unknown[]): ColumnSink {
  const binner = createBinner(profile);
  const expected = emptySink(binner.slots);
  oneByOne(binner, values, expected);
  // The values strided inside a larger array, as a run of records lays them out, added to a sink already used.
  const stride = 3;
  const laid: unknown[] = new Array(values.length * stride).fill('not this column');
  values.forEach((v, k) => {
    laid[1 + k * stride] = v;
  });
  const half = Math.floor(values.length / 2);
  const got = emptySink(binner.slots);
  binner.binColumn(laid, 1, stride, half, got);
  binner.binColumn(laid, 1 + half * stride, stride, values.length - half, got);
  expect(got).toEqual(expected);
  return got;
}

describe('binning a column of values at once', () => {
  it('adds what binning each numeric value alone adds: cells, position sums, tallies, min and max', () => {
    const r = mulberry32(5);
    const base = Float64Array.from({ length: 5000 }, () => Math.round(r() * 4000) / 100);
    const profile = numericProfile(Float64Array.from(base), 0);
    const edges = profile.gridEdges;
    const values: unknown[] = Array.from({ length: 3000 }, (_, i) =>
      i % 97 === 0
        ? null
        : i % 89 === 0
          ? 'text'
          : i % 83 === 0
            ? undefined
            : i % 7 === 0
              ? edges[i % edges.length]
              : r() * 60 - 10,
    );
    const got = check(profile, values);
    expect(profile.gridSums).toBeDefined();
    expect(got.missing).toBeGreaterThan(0);
    expect(got.typeMismatch).toBeGreaterThan(0);
    expect(got.outOfRange).toBeGreaterThan(0);
    expect(got.offEdge).toBeLessThan(got.n);
    // A NaN keeps min and max where the order of values puts it, as before.
    check(profile, [3, Number.NaN, 1, 50]);
    check(profile, [Number.NaN, 3, 1]);
  });

  it('adds what binning each categorical value alone adds: top-K, pooled, unseen, numbers and objects', () => {
    const profile: ColumnProfile = {
      type: 'categorical',
      count: 10,
      missing: 0,
      distinct: 4,
      categories: ['a', 'b', '3'],
      counts: [4, 3, 2, 1],
      pooled: ['p'],
    };
    const values = ['a', 'b', 3, 'p', 'zz', null, undefined, { x: 1 }, true, 7, 'a', -1];
    const got = check(profile, values);
    expect(got.unseen).toBe(4);
    expect([got.vmin, got.vmax]).toEqual([-1, 7]);
  });
});
