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
}

export interface ColumnBinner {
  profile: ColumnProfile;
  /** Number of count slots: grid cells, or top-K categories + pooled + unseen. */
  slots: number;
  bin(value: unknown, out: Slotted): void;
}

function reset(out: Slotted): void {
  out.slot = -1;
  out.missing = false;
  out.typeMismatch = false;
  out.outOfRange = false;
  out.unseen = false;
  out.offEdge = false;
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
    return {
      profile,
      slots: edges.length + 1,
      bin(value, out) {
        reset(out);
        if (value === null || value === undefined) out.missing = true;
        else if (typeof value !== 'number') out.typeMismatch = true;
        else {
          out.slot = upperBound(edges, value);
          out.offEdge = out.slot === 0 || edges[out.slot - 1] !== value;
          out.outOfRange = value < min || value > max;
        }
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
  };
}
