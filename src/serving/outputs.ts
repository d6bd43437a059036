import type { Manifest } from './manifest.js';

// What the graph returned, turned into the API's predictions. The graph is trusted for nothing: an output
// that is missing, of the wrong shape or not finite is an OutputError (a fault of the model, not the client).

export interface ClassificationPrediction {
  label: string;
  probabilities: Record<string, number>;
}
export interface RegressionPrediction {
  value: number;
}
export type Prediction = ClassificationPrediction | RegressionPrediction;

/** An ONNX output tensor, as onnxruntime returns it (only dims and data are read). */
export interface OutputTensor {
  dims: readonly number[];
  data: Float32Array | ArrayLike<number>;
}

export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

function tensorOf(
  outputs: Record<string, OutputTensor>,
  name: string,
  expected: readonly number[],
): ArrayLike<number> {
  const tensor = Object.hasOwn(outputs, name) ? outputs[name] : undefined;
  const shown = `[${expected.join(', ')}]`;
  if (!tensor) {
    const returned = Object.keys(outputs);
    throw new OutputError(
      `the model returned no output "${name}" (expected ${shown}; it returned ${returned.length > 0 ? returned.map((n) => `"${n}"`).join(', ') : 'none'})`,
    );
  }
  const dims = Array.from(tensor.dims);
  if (dims.length !== expected.length || dims.some((d, i) => d !== expected[i])) {
    throw new OutputError(`output "${name}" has shape [${dims.join(', ')}], expected ${shown}`);
  }
  const size = expected.reduce((a, b) => a * b, 1);
  if (tensor.data.length !== size) {
    throw new OutputError(
      `output "${name}" holds ${tensor.data.length} values, expected ${size} for ${shown}`,
    );
  }
  for (let i = 0; i < size; i++) {
    if (!Number.isFinite(Number(tensor.data[i]))) {
      throw new OutputError(`output "${name}" holds a value that is not a finite number (${tensor.data[i]})`);
    }
  }
  return tensor.data;
}

/**
 * One prediction per row of the n instances sent. Classification: the label of the highest probability (the
 * first of equal maxima) and each label's probability; regression: the value of output [n, 1].
 */
export function toPredictions(
  manifest: Manifest,
  outputs: Record<string, OutputTensor>,
  n: number,
): Prediction[] {
  const output = manifest.output;
  if (output.kind === 'regression') {
    const data = tensorOf(outputs, output.value, [n, 1]);
    return Array.from({ length: n }, (_, i) => ({ value: Number(data[i]) }));
  }
  const { labels } = output;
  const k = labels.length;
  const data = tensorOf(outputs, output.probabilities, [n, k]);
  return Array.from({ length: n }, (_, row) => {
    let best = 0;
    const probabilities: Record<string, number> = {};
    for (let j = 0; j < k; j++) {
      const p = Number(data[row * k + j]);
      probabilities[labels[j] as string] = p;
      if (p > Number(data[row * k + best])) best = j;
    }
    return { label: labels[best] as string, probabilities };
  });
}

/** The prediction as a scored file shows it: the label (classification) or the value (regression). */
export function predictionAnswer(prediction: Prediction): string | number {
  return 'label' in prediction ? prediction.label : prediction.value;
}

/**
 * What monitoring records as the prediction: the class probabilities (classification; prediction drift and
 * label outcomes read their top class, performance estimation the probabilities) or the value (regression).
 */
export function predictionForLog(prediction: Prediction): Record<string, number> | number {
  return 'label' in prediction ? prediction.probabilities : prediction.value;
}
