import { type Config, type DriftSettings, driftSettingsFor } from '../config.js';
import type { Database } from '../db/client.js';
import { overridesOf } from './queries.js';

export interface Thresholds {
  psiWarning: number;
  psiCritical: number;
  alpha: number;
}

export interface ThresholdSource extends Thresholds {
  /** Where the thresholds come from: defaults/model config, feature config, or an API override. */
  source: 'model' | 'config' | 'override';
  setBy?: string;
  reason?: string | null;
}

/** Effective per-feature thresholds: model settings < config models.<m>.features.<f> < API overrides. */
export function thresholdsFor(db: Database, config: Config, model: string, settings: DriftSettings = driftSettingsFor(config, model)) {
  const overrides = new Map(overridesOf(db, model).map((o) => [o.feature, o]));
  const fromConfig = config.models[model]?.features ?? {};
  return (feature: string): ThresholdSource => {
    const cfg = fromConfig[feature];
    const o = overrides.get(feature);
    return {
      psiWarning: o?.psiWarning ?? cfg?.psiWarning ?? settings.psiWarning,
      psiCritical: o?.psiCritical ?? cfg?.psiCritical ?? settings.psiCritical,
      alpha: o?.alpha ?? cfg?.alpha ?? settings.alpha,
      source: o ? 'override' : cfg ? 'config' : 'model',
      ...(o ? { setBy: o.setBy, reason: o.reason } : {}),
    };
  };
}
