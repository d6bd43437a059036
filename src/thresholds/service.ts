import { type Config, type DriftSettings, driftSettingsFor } from '../config.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import type { Tx } from '../store/index.js';

// Alert thresholds in one place: where they come from (defaults < model config < feature config < API
// override), how they are resolved for a window, and how a person changes them.

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

export type ThresholdLookup = (feature: string) => ThresholdSource;

/** Effective per-feature thresholds: model settings < config models.<m>.features.<f> < API overrides. */
export async function thresholdsFor(
  tx: Tx,
  config: Config,
  model: string,
  settings: DriftSettings = driftSettingsFor(config, model),
): Promise<ThresholdLookup> {
  const overrides = new Map((await tx.thresholds.overrides(model)).map((o) => [o.feature, o]));
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

/** thresholdsFor in a read of its own, for one feature: what a page shows next to a feature's PSI. */
export async function featureThresholds(
  deps: Pick<AppDeps, 'store' | 'config'>,
  model: string,
  feature: string,
): Promise<ThresholdSource> {
  return (await deps.store.read((tx) => thresholdsFor(tx, deps.config, model)))(feature);
}

export interface ThresholdView {
  psi_warning: number;
  psi_critical: number;
  alpha: number;
  source: ThresholdSource['source'];
  set_by?: string;
  reason?: string | null;
}

export const thresholdView = (t: ThresholdSource): ThresholdView => ({
  psi_warning: t.psiWarning,
  psi_critical: t.psiCritical,
  alpha: t.alpha,
  source: t.source,
  ...(t.setBy === undefined ? {} : { set_by: t.setBy, reason: t.reason ?? null }),
});

export interface TrafficThresholds {
  /** Latency p95 (ms) at or above which a latency alert fires; null: off. */
  latency_p95_ms: number | null;
  /** Share of failed requests at or above which an error_rate alert fires; null: off. */
  error_rate: number | null;
  /** Requests (latency: records with latency_ms) a window needs before it is judged. */
  min_samples: number;
}

/** Traffic alert thresholds of a model (config `models.<m>` < `drift`; off by default). */
export function trafficThresholds(config: Config, model: string): TrafficThresholds {
  const s = driftSettingsFor(config, model);
  return {
    latency_p95_ms: s.latencyP95Ms ?? null,
    error_rate: s.errorRate ?? null,
    min_samples: s.minSamples,
  };
}

export interface AlertPolicyView {
  model: string;
  features: Record<string, ThresholdView>;
  traffic: TrafficThresholds;
}

/** The thresholds each feature of the model's active baselines (and the prediction) is judged by. */
export async function alertPolicy(
  deps: Pick<AppDeps, 'store' | 'config'>,
  model: string,
): Promise<AlertPolicyView> {
  return deps.store.read(async (tx) => {
    const features = await tx.baselines.activeFeatureNames(model);
    if (features.length === 0) throw new ApiError('not_found', `model ${model} has no active baseline`);
    const lookup = await thresholdsFor(tx, deps.config, model);
    return {
      model,
      features: Object.fromEntries([...features, 'prediction'].map((f) => [f, thresholdView(lookup(f))])),
      traffic: trafficThresholds(deps.config, model),
    };
  });
}

export interface ThresholdChange {
  model: string;
  feature: string;
  psiWarning: number | null;
  psiCritical: number | null;
  alpha: number | null;
  actor: string;
  reason: string;
}

/**
 * Sets (or, with nulls, clears) a feature's override in the caller's transaction. The feature must be
 * one the model's active baselines know, and the merged thresholds must keep psiCritical ≥ psiWarning,
 * the same rule the config enforces.
 */
export async function setThresholds(
  tx: Tx,
  config: Config,
  change: ThresholdChange,
  now: number,
): Promise<ThresholdSource> {
  const features = await tx.baselines.activeFeatureNames(change.model);
  if (features.length === 0) throw new ApiError('not_found', `model ${change.model} has no active baseline`);
  if (change.feature !== 'prediction' && !features.includes(change.feature)) {
    throw new ApiError(
      'not_found',
      `model ${change.model} has no feature ${change.feature} in its active baselines (known: ${features.join(', ')})`,
    );
  }
  const settings = driftSettingsFor(config, change.model);
  const cfg = config.models[change.model]?.features?.[change.feature];
  const warning = change.psiWarning ?? cfg?.psiWarning ?? settings.psiWarning;
  const critical = change.psiCritical ?? cfg?.psiCritical ?? settings.psiCritical;
  if (critical < warning) {
    const path = change.psiCritical !== null ? 'psi_critical' : 'psi_warning';
    throw new ApiError(
      'bad_request',
      `psi_critical (${critical}) must be at least psi_warning (${warning})`,
      {
        problems: [{ path, message: `psi_critical ${critical} is below psi_warning ${warning}` }],
      },
    );
  }
  await tx.thresholds.upsert({
    model: change.model,
    feature: change.feature,
    psiWarning: change.psiWarning,
    psiCritical: change.psiCritical,
    alpha: change.alpha,
    setBy: change.actor,
    reason: change.reason,
    updatedAt: now,
  });
  return (await thresholdsFor(tx, config, change.model, settings))(change.feature);
}

/** PUT …/features/:feature/thresholds as one service call. */
export async function putThresholds(
  deps: Pick<AppDeps, 'store' | 'config' | 'clock'>,
  change: ThresholdChange,
) {
  const t = await deps.store.tx((tx) => setThresholds(tx, deps.config, change, deps.clock()));
  return { model: change.model, feature: change.feature, ...thresholdView(t) };
}
