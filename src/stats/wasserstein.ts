import { standardDeviation } from 'simple-statistics';
import { finiteCopy, type NumericInput, sortedCopy } from './validate.js';

/** Floor on the reference spread used by wassersteinNormed, so constant references do not divide by zero. */
export const WASSERSTEIN_MIN_SCALE = 0.001;

/** W1 between the empirical distributions of two ascending arrays: ∫ |F_a − F_b| dx. */
export function wassersteinSorted(a: Float64Array, b: Float64Array): number {
  const na = a.length;
  const nb = b.length;
  let i = 0;
  let j = 0;
  let prev = Math.min(a[0] as number, b[0] as number);
  let sum = 0;
  while (i < na || j < nb) {
    const ai = i < na ? (a[i] as number) : Number.POSITIVE_INFINITY;
    const bj = j < nb ? (b[j] as number) : Number.POSITIVE_INFINITY;
    const x = Math.min(ai, bj);
    sum += Math.abs(i / na - j / nb) * (x - prev);
    while (i < na && (a[i] as number) <= x) i++;
    while (j < nb && (b[j] as number) <= x) j++;
    prev = x;
  }
  return sum;
}

/** 1-Wasserstein (earth mover's) distance between two samples, as scipy.stats.wasserstein_distance(a, b). */
export function wasserstein(a: NumericInput, b: NumericInput): number {
  return wassersteinSorted(sortedCopy(a, 'a', 'wasserstein'), sortedCopy(b, 'b', 'wasserstein'));
}

/** Population standard deviation (numpy.std default, ddof = 0). */
export function populationStd(values: NumericInput): number {
  return standardDeviation(Array.from(finiteCopy(values, 'values', 'populationStd')));
}

/** Wasserstein distance in units of the reference spread: W1(a, b) / max(std(a), 0.001), std with ddof = 0. */
export function wassersteinNormed(a: NumericInput, b: NumericInput): number {
  const fa = finiteCopy(a, 'a', 'wassersteinNormed');
  const fb = sortedCopy(b, 'b', 'wassersteinNormed');
  const scale = Math.max(populationStd(fa), WASSERSTEIN_MIN_SCALE);
  return wassersteinSorted(fa.sort(), fb) / scale;
}
