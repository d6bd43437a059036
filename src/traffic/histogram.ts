// A mergeable latency histogram with log-spaced buckets (pure; imports nothing of the project).
//
// Layout. Slot 0 counts values below MIN_MS (0.01 ms, zero included); slot i = 1…BUCKETS counts values in
// [MIN_MS·γ^(i−1), MIN_MS·γ^i); slot BUCKETS + 1 counts values at or above MAX_MS (10 minutes).
// γ = 1.02, so BUCKETS = ⌈ln(MAX_MS / MIN_MS) / ln γ⌉ = 905 and a full vector is 907 uint32 (3.6 KB).
// Vectors are stored without their trailing zeros (a service answering within a second never touches the
// upper ~230 slots), and a shorter vector is a longer one with zeros after it, so adding two vectors
// element-wise — the longer one's tail kept — is the merge. Counts only add: histograms written by any
// number of processes, or of any number of buckets, merge exactly.
//
// Accuracy. A quantile is read at a rank: the k-th smallest value (1-based) is estimated by the
// representative of the slot holding it, r = 2·lo·hi / (lo + hi) for the slot [lo, hi) with hi = γ·lo.
// For every x in [lo, hi], |r − x| / x ≤ (γ − 1) / (γ + 1) = 0.02 / 2.02 ≈ 0.0099: each order statistic
// within [MIN_MS, MAX_MS) is estimated within a relative error of ALPHA = (γ − 1)/(γ + 1) < 1 %.
// The q-quantile interpolates linearly between the order statistics at ranks ⌊h⌋ and ⌈h⌉ with
// h = 1 + q·(n − 1) (NumPy's default "linear" method); an interpolation with non-negative weights of
// estimates each within ALPHA of their exact values is itself within ALPHA of the exact interpolation,
// so the bound holds for the interpolated quantile too. Values below MIN_MS are estimated as MIN_MS / 2
// (absolute error ≤ 0.005 ms); values at or above MAX_MS as MAX_MS (an underestimate: the overflow slot
// has no upper edge). Merging loses nothing: the merged histogram is exactly the histogram of the union,
// so the bound holds for quantiles of merged windows as well.

export const MIN_MS = 0.01;
export const MAX_MS = 600_000;
export const GAMMA = 1.02;
/** Largest relative error of a quantile estimate for values in [MIN_MS, MAX_MS). */
export const ALPHA = (GAMMA - 1) / (GAMMA + 1);
const LOG_GAMMA = Math.log(GAMMA);
/** Log-spaced slots between MIN_MS and MAX_MS. */
export const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GAMMA);
/** Slots in a full vector: underflow, BUCKETS, overflow. */
export const SLOTS = BUCKETS + 2;
const OVERFLOW = BUCKETS + 1;

/** Lower edge of log-spaced slot i (1…BUCKETS + 1); slot i is [lowerEdge(i), lowerEdge(i + 1)). */
export function lowerEdge(i: number): number {
  return MIN_MS * GAMMA ** (i - 1);
}

/** The slot a latency (ms, ≥ 0) is counted in. */
export function slotOf(ms: number): number {
  if (!(ms >= MIN_MS)) return 0;
  if (ms >= MAX_MS) return OVERFLOW;
  let i = 1 + Math.floor(Math.log(ms / MIN_MS) / LOG_GAMMA);
  // The logarithm may round across an edge: settle on the slot whose edges (as lowerEdge computes them)
  // hold the value, so the error bound holds for values on an edge too.
  if (i > BUCKETS) i = BUCKETS;
  while (i > 1 && ms < lowerEdge(i)) i--;
  while (i < BUCKETS && ms >= lowerEdge(i + 1)) i++;
  return i;
}

/** The value a slot stands for: the point of least worst-case relative error (see the header). */
export function representative(slot: number): number {
  if (slot <= 0) return MIN_MS / 2;
  if (slot >= OVERFLOW) return MAX_MS;
  const lo = lowerEdge(slot);
  const hi = lowerEdge(slot + 1);
  return (2 * lo * hi) / (lo + hi);
}

/** Adds one value to a full-length vector (Uint32Array(SLOTS)). */
export function addValue(counts: Uint32Array, ms: number): void {
  const s = slotOf(ms);
  counts[s] = (counts[s] as number) + 1;
}

/** A histogram of values, full length (trim before storing). */
export function histogramOf(values: Iterable<number>): Uint32Array {
  const counts = new Uint32Array(SLOTS);
  for (const v of values) addValue(counts, v);
  return counts;
}

/** The vector without its trailing zeros (the stored form); empty when nothing was counted. */
export function trim(counts: Uint32Array): Uint32Array {
  let end = counts.length;
  while (end > 0 && counts[end - 1] === 0) end--;
  return end === counts.length ? counts : counts.slice(0, end);
}

/** Element-wise sum; the longer vector's tail is kept (a shorter vector has zeros there). */
export function merge(a: Uint32Array, b: Uint32Array): Uint32Array {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  const out = Uint32Array.from(long);
  for (let i = 0; i < short.length; i++) out[i] = ((out[i] as number) + (short[i] as number)) >>> 0;
  return out;
}

export function total(counts: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i] as number;
  return n;
}

/** Estimate of the k-th smallest value (1 ≤ k ≤ total), or null for an empty histogram. */
export function valueAtRank(counts: Uint32Array, k: number): number | null {
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] as number;
    if (seen >= k) return representative(i);
  }
  return null;
}

/**
 * The q-quantile (0 ≤ q ≤ 1), linearly interpolated between the neighbouring order statistics as
 * NumPy's default; within ALPHA (relative) of the exact quantile for values in [MIN_MS, MAX_MS).
 * Null for an empty histogram.
 */
export function quantile(counts: Uint32Array, q: number): number | null {
  const n = total(counts);
  if (n === 0) return null;
  const h = 1 + Math.min(1, Math.max(0, q)) * (n - 1);
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = valueAtRank(counts, lo) as number;
  if (hi === lo) return a;
  const b = valueAtRank(counts, hi) as number;
  return a + (h - lo) * (b - a);
}

/** The exact q-quantile of raw values by the same (linear) definition, for comparisons. */
export function exactQuantile(sorted: readonly number[], q: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const h = Math.min(1, Math.max(0, q)) * (n - 1);
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = sorted[lo] as number;
  return a + (h - lo) * ((sorted[hi] as number) - a);
}

/** Little-endian uint32 bytes, as aggregates.counts stores its vectors. */
export function toBytes(counts: Uint32Array): Buffer {
  const out = Buffer.alloc(counts.length * 4);
  for (let i = 0; i < counts.length; i++) out.writeUInt32LE(counts[i] as number, i * 4);
  return out;
}

export function fromBytes(bytes: Buffer | Uint8Array): Uint32Array {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  const out = new Uint32Array(Math.floor(b.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = b.readUInt32LE(i * 4);
  return out;
}
