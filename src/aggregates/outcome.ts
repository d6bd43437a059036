import { predictionValue } from '../profiles/binner.js';
import type { Outcomes } from '../store/index.js';

export type LabelOutcome =
  | { kind: 'classification'; correct: boolean }
  | { kind: 'regression'; error: number }
  | null;

/**
 * How one prediction fared against its ground-truth label. A numeric label with a numeric prediction is
 * regression; anything else is classification, comparing the predicted class (top class of a probability
 * object, or prediction ≥ 0.5 for a boolean label) with the label as text.
 */
export function labelOutcome(prediction: unknown, label: unknown): LabelOutcome {
  if (label === null || label === undefined || prediction === null || prediction === undefined) return null;
  if (typeof label === 'number' && typeof prediction === 'number') return { kind: 'regression', error: prediction - label };
  let predicted = predictionValue(prediction);
  if (typeof label === 'boolean' && typeof predicted === 'number') predicted = predicted >= 0.5;
  return { kind: 'classification', correct: String(predicted) === String(label) };
}

/** Adds (sign 1) or removes (sign -1) one outcome from a bucket's label stats. */
export function addOutcome(s: Outcomes, o: LabelOutcome, sign: 1 | -1): void {
  if (!o) return;
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
