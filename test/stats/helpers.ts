import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { mulberry32 } from '../../src/stats/index.js';

export function loadJson<T>(relative: string): T {
  return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as T;
}

/** KS p-value / kstwo tolerance: relative 1e-6, or absolute 1e-12 where the reference is below 1e-6. */
export function expectPvalue(actual: number, expected: number): void {
  if (expected < 1e-6) expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12);
  else expect(Math.abs(actual - expected) / expected).toBeLessThanOrEqual(1e-6);
}

export function expectAbs(actual: number, expected: number, tol: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol);
}

/** Deterministic PRNG so grid tests are reproducible. */
export const rng = mulberry32;

export function normals(n: number, seed: number, mean = 0, sd = 1): Float64Array {
  const u = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    out[i] = mean + sd * r * Math.cos(2 * Math.PI * u());
  }
  return out;
}
