import { psi } from './divergence.js';
import { countsCopy, type NumericInput, StatsInputError } from './validate.js';

/** Deterministic PRNG (mulberry32), so a calibrated threshold is the same on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function standardNormal(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** Binomial(n, p) draw: inversion for small means, a rounded normal approximation for large ones. */
function binomial(n: number, p: number, next: () => number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  const mean = n * p;
  if (mean < 30 || n * (1 - p) < 30) {
    // Inversion on the smaller tail keeps the loop short.
    const flip = p > 0.5;
    const q = flip ? 1 - p : p;
    let k = 0;
    let prob = (1 - q) ** n;
    let cdf = prob;
    const u = next();
    while (u > cdf && k < n) {
      prob *= ((n - k) / (k + 1)) * (q / (1 - q));
      k++;
      cdf += prob;
    }
    return flip ? n - k : k;
  }
  const draw = Math.round(mean + Math.sqrt(mean * (1 - p)) * standardNormal(next));
  return Math.min(n, Math.max(0, draw));
}

/**
 * One multinomial draw of size n from the proportions ref/total into `out` (sequential binomials;
 * the binomials use a rounded normal approximation when both tails hold at least 30 expected counts).
 */
export function multinomialInto(
  out: Float64Array,
  ref: ArrayLike<number>,
  total: number,
  n: number,
  next: () => number,
): Float64Array {
  let left = n;
  let massLeft = total;
  for (let i = 0; i < ref.length; i++) {
    const mass = ref[i] as number;
    const k = i === ref.length - 1 ? left : binomial(left, massLeft > 0 ? mass / massLeft : 0, next);
    out[i] = k;
    left -= k;
    massLeft -= mass;
  }
  return out;
}

/**
 * PSI that sampling noise alone reaches: mean + 3σ of PSI between the reference and `samples` random
 * windows of size n drawn from the reference proportions (multinomial via sequential binomials).
 * The calibrated alternative to a fixed PSI threshold, as NannyML calibrates on reference chunks.
 */
export function psiNoiseThreshold(
  refCounts: NumericInput,
  n: number,
  options: { samples?: number; seed?: number } = {},
): number {
  const { counts: ref, total } = countsCopy(refCounts, 'refCounts', 'psiNoiseThreshold');
  if (!Number.isInteger(n) || n < 1)
    throw new StatsInputError(`psiNoiseThreshold: n must be a positive integer, got ${n}`);
  const samples = options.samples ?? 200;
  const next = mulberry32(options.seed ?? 1);
  const values: number[] = [];
  const draw = new Float64Array(ref.length);
  for (let s = 0; s < samples; s++) {
    multinomialInto(draw, ref, total, n, next);
    values.push(psi(ref, draw));
  }
  const mean = values.reduce((a, b) => a + b, 0) / samples;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / samples);
  return mean + 3 * sd;
}
