import type { Config } from '../config/index.js';

/**
 * `models.<m>.multivariate`: on unless `enabled: false` (a model with 2–100 numeric features is watched
 * jointly by default); a `features` list picks the columns.
 */
export function multivariateFor(config: Config, model: string): { enabled: boolean; features?: string[] } {
  const own = config.models[model]?.multivariate;
  return {
    enabled: own?.enabled !== false,
    ...(own?.features ? { features: own.features } : {}),
  };
}

/** `models.<m>.alerts.sequential`, or null when the model's drift alerts are judged per window. */
export function sequentialFor(config: Config, model: string): { arl0: number } | null {
  return config.models[model]?.alerts?.sequential ?? null;
}
