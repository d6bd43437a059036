import { baselineCache } from '../aggregates/baseline-cache.js';
import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { psiBins, referenceCounts } from '../drift/evaluate.js';
import type { DriftResult } from '../drift/service.js';
import { sequentialFor } from '../multivariate/config.js';
import { cusumStep, hForArl0, nullMoments, standardiseStatistic } from '../stats/cusum.js';
import type { Tx } from '../store/index.js';
import type { Signal } from './policy.js';

// Sequential drift alerts (docs/statistics.md, Sequential alerts): per feature, each closed bucket's PSI
// becomes a standard normal score under its null at the bucket's n, and an upper CUSUM (k 0.5, h from the
// configured ARL₀) over the scores decides; its state is stored per (model, version, feature).

export const CUSUM_K = 0.5;
/** Points of the CUSUM path kept in the state and shown in an alert's evidence. */
export const CUSUM_PATH = 50;

export interface CusumPathPoint {
  bucket: string;
  psi: number;
  n: number;
  /** The PSI's normal score under the null at n. */
  x: number;
  upper: number;
  alarm: boolean;
}

export interface SequentialSignal {
  signal: Signal;
  cusum: {
    arl0: number;
    k: number;
    h: number;
    null_mean: number | null;
    null_sd: number | null;
    point: CusumPathPoint;
    path: CusumPathPoint[];
  };
}

/**
 * The sequential signals of a result, by feature; null when the model's drift alerts are per window.
 * Rolling windows give none (the CUSUM runs over closed buckets). A bucket advances a feature's CUSUM
 * once: evaluated again, it gives the signal it gave the first time (or none if that has left the path).
 * Alarm → firing (critical when the window's own verdict is); C⁺ back at 0 → calm; otherwise no opinion.
 */
export async function sequentialSignals(
  tx: Tx,
  deps: Pick<AppDeps, 'store' | 'config' | 'clock'>,
  result: DriftResult,
): Promise<Map<string, SequentialSignal> | null> {
  const cfg = sequentialFor(deps.config, result.model);
  if (!cfg) return null;
  const out = new Map<string, SequentialSignal>();
  if (result.window_kind !== 'bucket') return out;
  const version = result.model_version ?? '';
  const baseline = await baselineCache(deps.store).resolve(tx, result.model, version);
  if (!baseline || baseline.id !== result.baseline_id) return out;
  const settings = driftSettingsFor(deps.config, result.model);
  const h = hForArl0(cfg.arl0, CUSUM_K, 'upper');
  const bucket = Date.parse(result.window.from);
  for (const r of result.features) {
    const binner = baseline.features.get(r.feature);
    if (!binner || r.psi === null || r.n < settings.minSamples) continue;
    const state = await tx.cusums.get(result.model, version, r.feature);
    const path = state ? (JSON.parse(state.path) as CusumPathPoint[]) : [];
    const iso = new Date(bucket).toISOString();
    const severity = r.severity === 'critical' ? 'critical' : 'warning';
    const signalOf = (p: CusumPathPoint): Signal =>
      p.alarm ? { firing: true, severity } : p.upper === 0 ? { firing: false } : null;
    if (state && state.lastBucket >= bucket) {
      const seen = path.find((p) => p.bucket === iso);
      if (seen)
        out.set(r.feature, {
          signal: signalOf(seen),
          cusum: { arl0: cfg.arl0, k: CUSUM_K, h, null_mean: null, null_sd: null, point: seen, path },
        });
      continue;
    }
    const nul = nullMoments(psiBins(binner.profile, referenceCounts(binner.profile)), r.n);
    if (!(nul.sd > 0)) continue;
    const x = standardiseStatistic(r.psi, nul);
    const step = cusumStep({ upper: state?.upper ?? 0, lower: 0 }, x, { k: CUSUM_K, h });
    const point: CusumPathPoint = {
      bucket: iso,
      psi: r.psi,
      n: r.n,
      x,
      upper: step.point.upper,
      alarm: step.point.alarm,
    };
    const next = [...path, point].slice(-CUSUM_PATH);
    const written = await tx.cusums.advance({
      model: result.model,
      modelVersion: version,
      feature: r.feature,
      upper: step.next.upper,
      lastBucket: bucket,
      path: JSON.stringify(next),
      updatedAt: deps.clock(),
    });
    if (!written) continue;
    out.set(r.feature, {
      signal: signalOf(point),
      cusum: { arl0: cfg.arl0, k: CUSUM_K, h, null_mean: nul.mean, null_sd: nul.sd, point, path: next },
    });
  }
  return out;
}
