import {
  type BaselinePca,
  baselinePca,
  type CoMoments,
  type CorrelationChange,
  type CorrelationNull,
  clipValue,
  coMomentsFromVector,
  correlationChanges,
  correlationNull,
  emptyCoMoments,
  mergeCoMoments,
  RECONSTRUCTION_ALPHA,
  reconstructionError,
  reconstructionNull,
} from '../stats/comoments.js';
import type { BaselineCoMoments } from './baseline.js';

// Joint shifts of a window (docs/statistics.md, Joint shifts): production rows become the baseline's
// standardised co-moments at ingest; a window's sums give its reconstruction error and correlation changes.

/**
 * A loaded baseline's co-moments; the PCA and the correlation null are computed on first use and kept with
 * the cached baseline.
 */
export interface JointBaseline extends BaselineCoMoments {
  pca: BaselinePca | null;
  correlationNull?: CorrelationNull | null;
}

/** The baseline's PCA (its null from the odd, calibration chunks) and correlation null, computed once. */
function nullsOf(joint: JointBaseline): { pca: BaselinePca; correlation: CorrelationNull | null } {
  const chunks = joint.chunks.filter((c) => c.dim === joint.features.length);
  const usable = chunks.length === joint.chunks.length && chunks.length >= 4;
  if (!joint.pca) {
    joint.pca = baselinePca(joint.fit, joint.calibration, {
      ...(usable ? { chunks: chunks.filter((_, k) => k % 2 === 1) } : {}),
    });
  }
  // A baseline stored before chunks were kept falls back to the normal-theory Fisher variance.
  if (joint.correlationNull === undefined) joint.correlationNull = usable ? correlationNull(chunks) : null;
  return { pca: joint.pca, correlation: joint.correlationNull };
}

/**
 * Adds one record's values to a bucket's accumulator, as addRow does (same arithmetic, same order, so the
 * sums equal a direct computation), without allocating per record: `z` is scratch of the accumulator's dim.
 * A value that is not a finite number is missing (z = 0, counted).
 */
export function addRecord(
  acc: CoMoments,
  joint: JointBaseline,
  features: Record<string, unknown>,
  z: Float64Array,
): void {
  const d = acc.dim;
  acc.n += 1;
  for (let i = 0; i < d; i++) {
    const name = joint.features[i] as string;
    const v = Object.hasOwn(features, name) ? features[name] : undefined;
    if (typeof v === 'number' && Number.isFinite(v))
      z[i] = (clipValue(joint, i, v) - (joint.mean[i] as number)) / (joint.sd[i] as number);
    else {
      z[i] = 0;
      acc.missing[i] = (acc.missing[i] as number) + 1;
    }
  }
  let t = 0;
  for (let i = 0; i < d; i++) {
    const zi = z[i] as number;
    acc.sum[i] = (acc.sum[i] as number) + zi;
    for (let j = i; j < d; j++, t++) acc.sumsq[t] = (acc.sumsq[t] as number) + zi * (z[j] as number);
  }
}

/** Correlation pairs kept in a stored result besides the flagged ones (the strongest changes). */
export const TOP_PAIRS = 10;
/** |Δr| a pair must reach to be flagged (the effect-size gate beside the BH-adjusted p). */
export const MIN_CORRELATION_DELTA = 0.2;

export interface PairResult {
  pair: string;
  a: string;
  b: string;
  baseline: number;
  window: number;
  delta: number;
  z: number;
  pvalue: number;
  pvalue_adjusted: number | null;
  flagged: boolean;
}

export interface MultivariateResult {
  features: string[];
  n: number;
  /** Per feature: records of the window without a value (counted as the baseline mean). */
  missing: number[];
  reconstruction: {
    error: number;
    /** Expected error under the baseline, its sd and the threshold at `alpha` (per window). */
    expected: number;
    sd: number;
    threshold: number;
    alpha: number;
    /** Share of the baseline's variance the kept components explain, and how many were kept. */
    explained: number;
    components: number;
    flagged: boolean;
  } | null;
  /** Flagged pairs, then the strongest other changes (at most TOP_PAIRS of those), by |z|. */
  pairs: PairResult[];
  pairs_tested: number;
  flagged: boolean;
}

/** A window's joint measures before the shared BH step: its pair p-values, then `finish` with them adjusted. */
export interface JointEvaluation {
  pvalues: number[];
  finish(adjusted: readonly number[], alpha: number): MultivariateResult;
}

/**
 * The joint measures of a window (its buckets' stored vectors) against the baseline, or null when the
 * window has no co-moments. Below `minSamples` records the measures are given but nothing is flagged.
 */
export function evaluateJoint(
  joint: JointBaseline,
  vectors: readonly Float64Array[],
  minSamples: number,
): JointEvaluation | null {
  let window = emptyCoMoments(joint.features.length);
  for (const v of vectors) {
    const acc = coMomentsFromVector(v);
    // A vector of another feature set (the baseline's was replaced) is not this baseline's evidence.
    if (acc.dim === window.dim) window = mergeCoMoments(window, acc);
  }
  if (window.n < 4) return null;
  const judged = window.n >= minSamples;
  const { pca, correlation } = nullsOf(joint);
  const error = reconstructionError(pca, window);
  const nul = reconstructionNull(pca, window.n, { alpha: RECONSTRUCTION_ALPHA });
  const reconstruction =
    nul.threshold > 0
      ? {
          error,
          expected: nul.mean,
          sd: nul.sd,
          threshold: nul.threshold,
          alpha: RECONSTRUCTION_ALPHA,
          explained: pca.explained,
          components: pca.components.length,
          flagged: judged && error > nul.threshold,
        }
      : null;
  const changes: CorrelationChange[] = correlationChanges(
    mergeCoMoments(joint.fit, joint.calibration),
    window,
    {
      minDelta: MIN_CORRELATION_DELTA,
      names: joint.features,
      ...(correlation ? { nul: correlation } : {}),
    },
  );
  return {
    pvalues: changes.map((c) => c.pvalue),
    finish(adjusted, alpha) {
      const pairs: PairResult[] = changes.map((c, i) => {
        const p = adjusted[i] ?? null;
        return {
          pair: c.pair as string,
          a: joint.features[c.i] as string,
          b: joint.features[c.j] as string,
          baseline: c.baseline,
          window: c.window,
          delta: c.delta,
          z: c.z,
          pvalue: c.pvalue,
          pvalue_adjusted: p,
          flagged: judged && c.large && p !== null && p < alpha,
        };
      });
      pairs.sort((x, y) => Number(y.flagged) - Number(x.flagged) || Math.abs(y.z) - Math.abs(x.z));
      const flaggedCount = pairs.filter((p) => p.flagged).length;
      return {
        features: joint.features,
        n: window.n,
        missing: window.missing,
        reconstruction,
        pairs: pairs.slice(0, flaggedCount + TOP_PAIRS),
        pairs_tested: pairs.length,
        flagged: flaggedCount > 0 || reconstruction?.flagged === true,
      };
    },
  };
}
