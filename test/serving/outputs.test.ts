import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/serving/manifest.js';
import {
  OutputError,
  type Prediction,
  predictionAnswer,
  predictionForLog,
  toPredictions,
} from '../../src/serving/outputs.js';
import { rentManifest, weatherManifest } from './fixtures.js';

const weather = parseManifest(weatherManifest(), 'weather'); // labels drizzle, fog, rain, snow, sun
const rent = parseManifest(rentManifest(), 'rent');

const labelOf = (p: Prediction | undefined) => (p && 'label' in p ? p.label : undefined);

const probs = (rows: number[][]) => ({
  probabilities: { dims: [rows.length, rows[0]?.length ?? 5], data: Float32Array.from(rows.flat()) },
});

describe('toPredictions: classification', () => {
  it('maps each row to the argmax label and every label to its probability', () => {
    const out = toPredictions(
      weather,
      probs([
        [0.1, 0.05, 0.6, 0.05, 0.2],
        [0, 0, 0, 0.25, 0.75],
      ]),
      2,
    );
    expect(out).toHaveLength(2);
    expect(labelOf(out[0])).toBe('rain');
    expect(labelOf(out[1])).toBe('sun');
    const first = out[0] as { probabilities: Record<string, number> };
    expect(Object.keys(first.probabilities)).toEqual(['drizzle', 'fog', 'rain', 'snow', 'sun']);
    expect(first.probabilities.drizzle).toBeCloseTo(0.1, 6);
    expect(first.probabilities.rain).toBeCloseTo(0.6, 6);
    expect(first.probabilities.sun).toBeCloseTo(0.2, 6);
    expect(out[1]).toEqual({
      label: 'sun',
      probabilities: { drizzle: 0, fog: 0, rain: 0, snow: 0.25, sun: 0.75 },
    });
  });

  it('takes the first of equal maxima', () => {
    const [tie] = toPredictions(weather, probs([[0.1, 0.4, 0.1, 0.4, 0]]), 1);
    expect(labelOf(tie)).toBe('fog');
    const [flat] = toPredictions(weather, probs([[0.2, 0.2, 0.2, 0.2, 0.2]]), 1);
    expect(labelOf(flat)).toBe('drizzle');
  });

  it('finds a maximum in the last column', () => {
    expect(labelOf(toPredictions(weather, probs([[0, 0, 0, 0, 1]]), 1)[0])).toBe('sun');
  });

  it('reads plain arrays as well as Float32Array', () => {
    const out = toPredictions(
      weather,
      { probabilities: { dims: [1, 5], data: [0.5, 0.1, 0.1, 0.1, 0.2] } },
      1,
    );
    expect(out).toEqual([
      { label: 'drizzle', probabilities: { drizzle: 0.5, fog: 0.1, rain: 0.1, snow: 0.1, sun: 0.2 } },
    ]);
  });

  it('refuses a missing output, naming what the model returned', () => {
    expect(() => toPredictions(weather, { label: { dims: [1], data: [2] } }, 1)).toThrow(
      new OutputError('the model returned no output "probabilities" (expected [1, 5]; it returned "label")'),
    );
    expect(() => toPredictions(weather, {}, 1)).toThrow(/it returned none/);
  });

  it.each<[string, readonly number[], number, string]>([
    ['too few labels', [1, 4], 4, 'output "probabilities" has shape [1, 4], expected [1, 5]'],
    ['too many rows', [2, 5], 10, 'output "probabilities" has shape [2, 5], expected [1, 5]'],
    ['a flat vector', [5], 5, 'output "probabilities" has shape [5], expected [1, 5]'],
    ['an extra axis', [1, 5, 1], 5, 'output "probabilities" has shape [1, 5, 1], expected [1, 5]'],
    ['data shorter than its dims', [1, 5], 4, 'output "probabilities" holds 4 values, expected 5 for [1, 5]'],
  ])('refuses %s', (_what, dims, length, message) => {
    const outputs = { probabilities: { dims, data: new Float32Array(length) } };
    expect(() => toPredictions(weather, outputs, 1)).toThrow(new OutputError(message));
  });

  it('refuses a probability that is not a finite number', () => {
    expect(() => toPredictions(weather, probs([[0.1, Number.NaN, 0.6, 0.1, 0.2]]), 1)).toThrow(
      /not a finite number \(NaN\)/,
    );
  });
});

describe('toPredictions: regression', () => {
  it('reads one value per row from output [N, 1]', () => {
    const out = toPredictions(rent, { value: { dims: [3, 1], data: Float32Array.from([1200.5, -3, 0]) } }, 3);
    expect(out).toEqual([{ value: 1200.5 }, { value: -3 }, { value: 0 }]);
  });

  it('refuses a missing value output or one of the wrong shape', () => {
    expect(() => toPredictions(rent, { variable: { dims: [1, 1], data: [1] } }, 1)).toThrow(
      'the model returned no output "value" (expected [1, 1]; it returned "variable")',
    );
    expect(() => toPredictions(rent, { value: { dims: [2], data: [1, 2] } }, 2)).toThrow(
      'output "value" has shape [2], expected [2, 1]',
    );
    expect(() => toPredictions(rent, { value: { dims: [1, 2], data: [1, 2] } }, 1)).toThrow(OutputError);
  });

  it('refuses an infinite value', () => {
    expect(() => toPredictions(rent, { value: { dims: [1, 1], data: [Infinity] } }, 1)).toThrow(OutputError);
  });
});

describe('predictionForLog', () => {
  it('is the class probabilities of a classification and the value of a regression', () => {
    expect(predictionForLog({ label: 'rain', probabilities: { rain: 0.9, sun: 0.1 } })).toEqual({
      rain: 0.9,
      sun: 0.1,
    });
    expect(predictionForLog({ value: 3.2 })).toBe(3.2);
    expect(predictionForLog({ value: 0 })).toBe(0);
  });

  it('a scored file still shows the label (predictionAnswer)', () => {
    expect(predictionAnswer({ label: 'rain', probabilities: { rain: 0.9, sun: 0.1 } })).toBe('rain');
    expect(predictionAnswer({ value: 3.2 })).toBe(3.2);
  });
});
