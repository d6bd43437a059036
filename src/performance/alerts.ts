import { ladderSignal, type Signal } from '../alerts/policy.js';
import { applySignal, type SignalWindow, trafficWindowId } from '../alerts/raise.js';
import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { type PerformanceResult, windowPerformance } from './service.js';

// performance_drop alerts: raised by the drift tick's composing step from a window's performance estimate,
// as traffic alerts are from a window that is no feature's drift result.

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;

/** The alert "feature" of performance alerts: they concern the model's decisions, not a column. */
export const PERFORMANCE_FEATURE = '(performance)';

/** What a window is judged on: realized accuracy once minSamples labels arrived, else the estimate. */
export function judgedAccuracy(
  r: PerformanceResult,
  minSamples: number,
): { accuracy: number; source: 'realized' | 'estimated' } | null {
  if (r.realized && r.realized.n >= minSamples && r.realized.accuracy !== null)
    return { accuracy: r.realized.accuracy, source: 'realized' };
  if (r.estimated.accuracy !== null && r.n >= minSamples)
    return { accuracy: r.estimated.accuracy, source: 'estimated' };
  return null;
}

/**
 * Raises, extends and recovers the performance_drop alert of a model from a window of one version, against
 * its baseline's labelled accuracy by `performanceDrop`. Nothing without a baseline built with label=.
 */
export async function judgePerformance(
  deps: Deps,
  model: string,
  modelVersion: string,
  kind: 'bucket' | 'rolling',
  from: number,
  to: number,
): Promise<void> {
  const settings = driftSettingsFor(deps.config, model);
  await deps.store.tx(async (tx) => {
    const [r] = await windowPerformance(tx, deps, {
      model,
      modelVersion,
      bucketMs: settings.bucket,
      from,
      to,
    });
    if (!r || r.baseline_accuracy === null) return;
    const judged = judgedAccuracy(r, settings.minSamples);
    const drop = judged === null ? null : r.baseline_accuracy - judged.accuracy;
    const signal: Signal =
      drop === null ? null : ladderSignal('performance_drop', Math.max(0, drop), settings.performanceDrop);
    const window: SignalWindow = {
      id: trafficWindowId({ kind, to }),
      model,
      model_version: r.model_version,
      window: r.window,
      window_kind: kind,
    };
    await applySignal(
      tx,
      deps,
      window,
      PERFORMANCE_FEATURE,
      'performance_drop',
      signal,
      {
        window: r.window,
        window_kind: kind,
        model_version: r.model_version,
        n: r.n,
        labeled: r.labeled,
        source: judged?.source ?? null,
        accuracy: judged?.accuracy ?? null,
        estimated_accuracy: r.estimated.accuracy,
        realized_accuracy: r.realized?.accuracy ?? null,
        baseline_accuracy: r.baseline_accuracy,
        drop,
        threshold: settings.performanceDrop,
      },
      null,
    );
  });
}
