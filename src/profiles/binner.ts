import { upperBound } from '../stats/index.js';
import type { ColumnProfile } from './profile.js';

// Turns one production value into a slot of its column's aggregate, on the baseline's own grid.
// Pure and allocation-free per value: this runs for every feature of every ingested record.

export interface Slotted {
  /** Cell (numeric) or category slot, or -1 when the value is missing or of the wrong type. */
  slot: number;
  missing: boolean;
  typeMismatch: boolean;
  outOfRange: boolean;
  unseen: boolean;
  /** A numeric value that is not exactly one of the grid edges. */
  offEdge: boolean;
  /** Count slot holding the cell's position sum (-1: none), and what this value adds to it. */
  sumSlot: number;
  sumAdd: number;
}

/**
 * A value's position inside its cell is stored as 0 (exactly on the left edge) or 1…255 (fraction of the
 * width, rounded): an integer, so position sums add across buckets and writers like the counts do.
 */
export const POSITION_STEPS = 255;

/** Adds one binned value to a count vector (its cell count and, with position sums, the cell's sum). */
export function addSlotted(counts: Uint32Array, s: Slotted): void {
  if (s.slot < 0) return;
  counts[s.slot] = (counts[s.slot] as number) + 1;
  if (s.sumSlot >= 0) counts[s.sumSlot] = (counts[s.sumSlot] as number) + s.sumAdd;
}

/** What a column's binned values add to: an aggregate delta's counts and tallies. */
export interface ColumnSink {
  counts: Uint32Array;
  n: number;
  missing: number;
  typeMismatch: number;
  outOfRange: number;
  unseen: number;
  offEdge: number;
  vmin: number | null;
  vmax: number | null;
}

export interface ColumnBinner {
  profile: ColumnProfile;
  /** Number of count slots: grid cells, or top-K categories + pooled + unseen. */
  slots: number;
  bin(value: unknown, out: Slotted): void;
  /**
   * Bins `count` values, `values[at]`, `values[at + stride]`, …, into `sink`, in that order: what `bin` and
   * addSlotted do value by value (min and max of the numbers too), in one tight loop per column.
   */
  binColumn(values: readonly unknown[], at: number, stride: number, count: number, sink: ColumnSink): void;
}

function reset(out: Slotted): void {
  out.slot = -1;
  out.missing = false;
  out.typeMismatch = false;
  out.outOfRange = false;
  out.unseen = false;
  out.offEdge = false;
  out.sumSlot = -1;
  out.sumAdd = 0;
}

/** Reduces a prediction to a comparable value: an object of class probabilities becomes its top class. */
export function predictionValue(prediction: unknown): unknown {
  if (prediction === null || typeof prediction !== 'object') return prediction;
  let best: string | null = null;
  let bestP = Number.NEGATIVE_INFINITY;
  for (const [k, p] of Object.entries(prediction as Record<string, number>)) {
    if (p > bestP) {
      best = k;
      bestP = p;
    }
  }
  return best;
}

export function createBinner(profile: ColumnProfile): ColumnBinner {
  if (profile.type === 'numeric') {
    const edges = Float64Array.from(profile.gridEdges);
    const { min, max } = profile;
    const cells = edges.length + 1;
    // Profiles with gridSums double the slots: after the cell counts, each inner cell's position sum.
    const sums = profile.gridSums !== undefined;
    return {
      profile,
      slots: sums ? 2 * cells : cells,
      bin(value, out) {
        reset(out);
        if (value === null || value === undefined) out.missing = true;
        else if (typeof value !== 'number') out.typeMismatch = true;
        else {
          const slot = upperBound(edges, value);
          out.slot = slot;
          out.offEdge = slot === 0 || edges[slot - 1] !== value;
          out.outOfRange = value < min || value > max;
          if (sums && slot > 0 && slot < cells - 1) {
            const left = edges[slot - 1] as number;
            const u = (value - left) / ((edges[slot] as number) - left);
            out.sumSlot = cells + slot;
            out.sumAdd = u > 0 ? Math.max(1, Math.min(POSITION_STEPS, Math.round(u * POSITION_STEPS))) : 0;
          }
        }
      },
      binColumn(values, at, stride, count, sink) {
        const counts = sink.counts;
        let { n, missing, typeMismatch, outOfRange, offEdge, vmin, vmax } = sink;
        for (let k = 0; k < count; k++, at += stride) {
          const value = values[at];
          if (value === null || value === undefined) missing++;
          else if (typeof value !== 'number') typeMismatch++;
          else {
            const slot = upperBound(edges, value);
            n++;
            counts[slot] = (counts[slot] as number) + 1;
            if (slot === 0 || edges[slot - 1] !== value) offEdge++;
            if (value < min || value > max) outOfRange++;
            if (sums && slot > 0 && slot < cells - 1) {
              const left = edges[slot - 1] as number;
              const u = (value - left) / ((edges[slot] as number) - left);
              const add = u > 0 ? Math.max(1, Math.min(POSITION_STEPS, Math.round(u * POSITION_STEPS))) : 0;
              counts[cells + slot] = (counts[cells + slot] as number) + add;
            }
            if (vmin === null || value < vmin) vmin = value;
            if (vmax === null || value > vmax) vmax = value;
          }
        }
        sink.n = n;
        sink.missing = missing;
        sink.typeMismatch = typeMismatch;
        sink.outOfRange = outOfRange;
        sink.offEdge = offEdge;
        sink.vmin = vmin;
        sink.vmax = vmax;
      },
    };
  }
  const index = new Map<string, number>();
  for (const [i, c] of profile.categories.entries()) index.set(c, i);
  const pooledSlot = profile.categories.length;
  const unseenSlot = pooledSlot + 1;
  for (const c of profile.pooled) index.set(c, pooledSlot);
  return {
    profile,
    slots: unseenSlot + 1,
    bin(value, out) {
      reset(out);
      if (value === null || value === undefined) {
        out.missing = true;
        return;
      }
      if (typeof value === 'object') {
        out.typeMismatch = true;
        return;
      }
      const slot = index.get(String(value));
      if (slot === undefined) {
        out.slot = unseenSlot;
        out.unseen = true;
      } else out.slot = slot;
    },
    binColumn(values, at, stride, count, sink) {
      const counts = sink.counts;
      let { n, missing, typeMismatch, unseen, vmin, vmax } = sink;
      for (let k = 0; k < count; k++, at += stride) {
        const value = values[at];
        if (value === null || value === undefined) missing++;
        else if (typeof value === 'object') typeMismatch++;
        else {
          let slot = index.get(String(value));
          if (slot === undefined) {
            slot = unseenSlot;
            unseen++;
          }
          n++;
          counts[slot] = (counts[slot] as number) + 1;
          if (typeof value === 'number') {
            if (vmin === null || value < vmin) vmin = value;
            if (vmax === null || value > vmax) vmax = value;
          }
        }
      }
      sink.n = n;
      sink.missing = missing;
      sink.typeMismatch = typeMismatch;
      sink.unseen = unseen;
      sink.vmin = vmin;
      sink.vmax = vmax;
    },
  };
}
