import { predictionValue } from '../profiles/binner.js';
import { binaryLabel } from '../profiles/calibration.js';
import type { BucketKey, BucketStatsDelta, Outcomes } from '../store/index.js';

export type LabelOutcome =
  | { kind: 'classification'; correct: boolean }
  | { kind: 'regression'; error: number }
  /** Stored on the record but counted nowhere, with the reason. */
  | { kind: 'unscored'; reason: string }
  | null;

/**
 * Regression errors beyond this are not scored. Their squares (≤ 1e200) summed into a bucket stay finite for
 * any number of labels; an infinite sum would make a later correction Infinity − Infinity, which SQLite
 * stores as NULL.
 */
export const MAX_REGRESSION_ERROR = 1e100;

/**
 * How one prediction fared against its ground-truth label. On a binary classifier (`threshold` given), a
 * score in [0, 1] with a 0/1, true/false or yes/no label is a decision at the threshold. Otherwise a numeric
 * label with a numeric prediction is regression; anything else is classification, comparing the predicted
 * class (top class of a probability object, or prediction ≥ 0.5 for a boolean label) with the label as text.
 */
export function labelOutcome(
  prediction: unknown,
  label: unknown,
  threshold: number | null = null,
): LabelOutcome {
  if (label === null || label === undefined || prediction === null || prediction === undefined) return null;
  if (threshold !== null && typeof prediction === 'number' && prediction >= 0 && prediction <= 1) {
    const y = binaryLabel(label);
    if (y !== null) return { kind: 'classification', correct: (prediction >= threshold ? 1 : 0) === y };
  }
  if (typeof label === 'number' && typeof prediction === 'number') {
    const error = prediction - label;
    if (Math.abs(error) <= MAX_REGRESSION_ERROR) return { kind: 'regression', error };
    return {
      kind: 'unscored',
      reason: `prediction ${prediction} and label ${label} differ by more than ${MAX_REGRESSION_ERROR}; the label is stored but not scored`,
    };
  }
  let predicted = predictionValue(prediction);
  if (typeof label === 'boolean' && typeof predicted === 'number') predicted = predicted >= 0.5;
  return { kind: 'classification', correct: String(predicted) === String(label) };
}

/** Adds (sign 1) or removes (sign -1) one outcome from a bucket's label stats. */
export function addOutcome(s: Outcomes, o: LabelOutcome, sign: 1 | -1): void {
  if (!o || o.kind === 'unscored') return;
  s.labeled += sign;
  if (o.kind === 'classification') {
    s.classified += sign;
    if (o.correct) s.correct += sign;
  } else {
    s.regressed += sign;
    s.absErrSum += sign * Math.abs(o.error);
    s.sqErrSum += sign * o.error * o.error;
  }
}

/** A bucket's stats delta with nothing counted yet. */
export function emptyBucketStats(key: BucketKey): BucketStatsDelta {
  return {
    ...key,
    records: 0,
    labeled: 0,
    classified: 0,
    correct: 0,
    regressed: 0,
    absErrSum: 0,
    sqErrSum: 0,
  };
}
