/**
 * Sequential alerts with a stated false-alarm rate: CUSUM over a per-bucket drift statistic turned into a
 * standard normal score under the null (resampled from the baseline at the bucket's n).
 */
import { mulberry32, multinomialInto } from './calibration.js';
import { gammaNormalScore } from './distributions.js';
import { psi } from './divergence.js';
import { countsCopy, type NumericInput, StatsInputError } from './validate.js';

export type CusumSide = 'upper' | 'two-sided';

export interface CusumOptions {
  /** Reference value (allowance), in null sd: half the shift to detect fastest. Default 0.5. */
  k?: number;
  /** Decision interval, in null sd. */
  h: number;
  /** `upper` for drift statistics (larger means more drift); `two-sided` alarms on max(C⁺, C⁻). */
  side?: CusumSide;
}

export interface CusumState {
  upper: number;
  lower: number;
}

export interface CusumPoint extends CusumState {
  /** The standardised statistic fed in. */
  x: number;
  alarm: boolean;
}

function checkOptions(o: CusumOptions, fn: string): Required<CusumOptions> {
  const k = o?.k ?? 0.5;
  const side = o?.side ?? 'upper';
  if (!(Number.isFinite(k) && k >= 0))
    throw new StatsInputError(`${fn}: k must be a non-negative number, got ${String(k)}`);
  if (!(Number.isFinite(o?.h) && o.h > 0))
    throw new StatsInputError(`${fn}: h must be a positive number, got ${String(o?.h)}`);
  if (side !== 'upper' && side !== 'two-sided') {
    throw new StatsInputError(`${fn}: side must be 'upper' or 'two-sided', got ${String(side)}`);
  }
  return { k, h: o.h, side };
}

/**
 * One CUSUM step: C⁺ = max(0, C⁺ + x − k), C⁻ = max(0, C⁻ − x − k); alarm when C⁺ > h (or C⁻ > h two-sided).
 * The returned point holds the sums before the restart, so the evidence shows the crossing; the next
 * state restarts at 0 after an alarm.
 */
export function cusumStep(
  state: CusumState,
  x: number,
  options: CusumOptions,
): { point: CusumPoint; next: CusumState } {
  const { k, h, side } = checkOptions(options, 'cusumStep');
  if (!Number.isFinite(x)) throw new StatsInputError(`cusumStep: x is ${String(x)}; it must be finite`);
  const upper = Math.max(0, state.upper + x - k);
  const lower = side === 'two-sided' ? Math.max(0, state.lower - x - k) : 0;
  const alarm = upper > h || lower > h;
  return { point: { x, upper, lower, alarm }, next: alarm ? { upper: 0, lower: 0 } : { upper, lower } };
}

/** Runs a CUSUM over a stream, restarting after each alarm; returns the whole path and the alarm indices. */
export function cusum(xs: NumericInput, options: CusumOptions): { path: CusumPoint[]; alarms: number[] } {
  checkOptions(options, 'cusum');
  let state: CusumState = { upper: 0, lower: 0 };
  const path: CusumPoint[] = [];
  const alarms: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const { point, next } = cusumStep(state, xs[i] as number, options);
    path.push(point);
    if (point.alarm) alarms.push(i);
    state = next;
  }
  return { path, alarms };
}

/** Siegmund's b = h + 1.166 correction for the overshoot of a normal CUSUM. */
const SIEGMUND_OVERSHOOT = 1.166;

/**
 * Siegmund's approximation of the one-sided (upper) CUSUM's zero-state average run length for N(δ, 1)
 * input: with Δ = δ − k and b = h + 1.166, ARL = (exp(−2Δb) + 2Δb − 1)/(2Δ²), and b² at Δ = 0.
 * For δ = 0 this is the in-control ARL₀ (k 0.5, h 5: 938; the two-sided chart's ARL₀ is half of that).
 */
export function siegmundArl(delta: number, k: number, h: number): number {
  if (![delta, k, h].every(Number.isFinite) || h <= 0) {
    throw new StatsInputError('siegmundArl: delta, k and h must be finite, h positive');
  }
  const d = delta - k;
  const b = h + SIEGMUND_OVERSHOOT;
  if (Math.abs(d) < 1e-9) return b * b;
  return (Math.exp(-2 * d * b) + 2 * d * b - 1) / (2 * d * d);
}

/**
 * ARL of a chart for a mean shift δ ≥ 0: the upper chart's ARL, or for `two-sided` the combination
 * 1/ARL = 1/ARL⁺ + 1/ARL⁻ (exact for ARL₀ by symmetry, a close approximation otherwise).
 */
export function cusumArl(delta: number, k: number, h: number, side: CusumSide = 'upper'): number {
  const up = siegmundArl(delta, k, h);
  if (side === 'upper') return up;
  return 1 / (1 / up + 1 / siegmundArl(-delta, k, h));
}

/** The decision interval h whose ARL₀ (by Siegmund's approximation) is `arl0`, solved by bisection. */
export function hForArl0(arl0: number, k = 0.5, side: CusumSide = 'upper'): number {
  if (!(Number.isFinite(arl0) && arl0 > 1))
    throw new StatsInputError(`hForArl0: arl0 must be above 1, got ${String(arl0)}`);
  if (!(Number.isFinite(k) && k > 0))
    throw new StatsInputError(`hForArl0: k must be positive, got ${String(k)}`);
  let lo = 1e-6;
  let hi = 1;
  while (cusumArl(0, k, hi, side) < arl0) hi *= 2;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (cusumArl(0, k, mid, side) < arl0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export type BinnedStatistic = (refCounts: Float64Array, curCounts: Float64Array) => number;

export interface NullMoments {
  n: number;
  mean: number;
  sd: number;
  draws: number;
}

/**
 * Null mean and sd of a binned drift statistic (PSI by default) at window size n: the statistic between
 * the baseline counts and `draws` multinomial samples of size n from the baseline proportions (seeded
 * mulberry32, so the same baseline and n always give the same numbers).
 */
export function nullMoments(
  baselineCounts: NumericInput,
  n: number,
  options: { statistic?: BinnedStatistic; draws?: number; seed?: number } = {},
): NullMoments {
  const { counts: ref, total } = countsCopy(baselineCounts, 'baselineCounts', 'nullMoments');
  if (total <= 0) throw new StatsInputError('nullMoments: baselineCounts sum to zero');
  if (!Number.isInteger(n) || n < 1)
    throw new StatsInputError(`nullMoments: n must be a positive integer, got ${n}`);
  const draws = options.draws ?? 2000;
  if (!Number.isInteger(draws) || draws < 2) {
    throw new StatsInputError(`nullMoments: draws must be an integer ≥ 2, got ${String(draws)}`);
  }
  const statistic = options.statistic ?? ((r, c) => psi(r, c));
  const next = mulberry32(options.seed ?? 1);
  const draw = new Float64Array(ref.length);
  let mean = 0;
  let m2 = 0;
  for (let i = 1; i <= draws; i++) {
    const v = statistic(ref, multinomialInto(draw, ref, total, n, next));
    const delta = v - mean;
    mean += delta / i;
    m2 += delta * (v - mean);
  }
  return { n, mean, sd: Math.sqrt(m2 / (draws - 1)), draws };
}

export type StandardiseMethod = 'gamma' | 'moments';

/**
 * The CUSUM input for one bucket: the statistic as a standard normal score under its null.
 * `gamma` (default): Φ⁻¹ of the gamma CDF with the null's mean and sd — PSI-like statistics are sums of
 * squares, skewed like a scaled χ², and (x − mean)/sd would fire an upper CUSUM far more often than its
 * ARL₀ says. `moments`: plain (x − mean)/sd.
 */
export function standardiseStatistic(
  x: number,
  nul: NullMoments,
  method: StandardiseMethod = 'gamma',
): number {
  if (!Number.isFinite(x))
    throw new StatsInputError(`standardiseStatistic: x is ${String(x)}; it must be finite`);
  if (!(nul?.sd > 0)) throw new StatsInputError('standardiseStatistic: the null sd must be positive');
  if (method === 'moments') return (x - nul.mean) / nul.sd;
  if (method !== 'gamma')
    throw new StatsInputError(`standardiseStatistic: method must be 'gamma' or 'moments'`);
  return gammaNormalScore(x, nul.mean, nul.sd);
}
