import { pino } from 'pino';
import { mulberry32 } from '../src/stats/index.js';
import { type ConfigInput, defaultConfig } from '../src/config.js';
import type { AppDeps } from '../src/context.js';
import { openStore } from '../src/store/index.js';

/** Deterministic PRNG so every run measures the same data. */
export const rng = mulberry32;

export function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

export const FEATURES = 20;

/** One synthetic feature row: 16 numeric (normal, skewed, integer-tied) and 4 categorical columns. */
export function featureRow(r: () => number, shift = 0): Record<string, number | string> {
  const row: Record<string, number | string> = {};
  for (let f = 0; f < 16; f++) {
    const z = normal(r) + shift;
    row[`f${f}`] = f % 4 === 0 ? Math.round(Math.exp(z) * 3) : f % 4 === 1 ? Math.exp(z) : z * (f + 1);
  }
  for (let f = 16; f < FEATURES; f++) row[`f${f}`] = `c${Math.floor(r() ** 2 * 12)}`;
  return row;
}

export function benchDeps(path: string, config: ConfigInput = {}): AppDeps {
  const cfg = defaultConfig({ ...config, database: { path, ...config.database } });
  return { config: cfg, store: openStore(cfg.database), log: pino({ level: 'silent' }), clock: Date.now };
}

export function time<T>(fn: () => T): { ms: number; value: T } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

export async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}
