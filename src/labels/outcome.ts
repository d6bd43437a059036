import { predictionValue } from '../aggregates/binner.js';

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
