/**
 * Run-length simulation of the sequential alert through the real per-bucket path: a bucket of n records
 * drawn from the baseline → PSI against the baseline → normal score under the resampled null → CUSUM.
 * Pure and seeded; `npm run sim:arl` prints the full run, the tests run a reduced one.
 */
import { mulberry32, multinomialInto } from './calibration.js';
import {
  type CusumOptions,
  cusumStep,
  type NullMoments,
  type StandardiseMethod,
  standardiseStatistic,
} from './cusum.js';
import { psi } from './divergence.js';
import { countsCopy, type NumericInput } from './validate.js';

export interface RunLengthOptions extends CusumOptions {
  baselineCounts: NumericInput;
  /** Records per bucket. */
  n: number;
  nul: NullMoments;
  streams: number;
  seed: number;
  /** Added to every standardised score: a shift of `shift` null sd. Default 0 (null streams). */
  shift?: number;
  method?: StandardiseMethod;
  /** A stream that has not alarmed after this many buckets counts as this length (default 100,000). */
  maxLength?: number;
}

/** Buckets until the first alarm (counting the alarming bucket), one per stream. */
export function simulateRunLengths(o: RunLengthOptions): number[] {
  const { counts: ref, total } = countsCopy(o.baselineCounts, 'baselineCounts', 'simulateRunLengths');
  const next = mulberry32(o.seed);
  const draw = new Float64Array(ref.length);
  const max = o.maxLength ?? 100_000;
  const out: number[] = [];
  for (let s = 0; s < o.streams; s++) {
    let state = { upper: 0, lower: 0 };
    let t = 0;
    while (t < max) {
      t++;
      const x = standardiseStatistic(psi(ref, multinomialInto(draw, ref, total, o.n, next)), o.nul, o.method);
      const step = cusumStep(state, x + (o.shift ?? 0), o);
      if (step.point.alarm) break;
      state = step.next;
    }
    out.push(t);
  }
  return out;
}

export function meanOf(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
