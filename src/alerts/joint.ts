import type { DriftResult } from '../drift/service.js';
import { MIN_CORRELATION_DELTA } from '../multivariate/joint.js';
import type { Tx } from '../store/index.js';
import type { Signal } from './policy.js';
import { ladderSignal } from './policy.js';

/** The alert "feature" of a joint shift off the baseline's principal subspace. */
export const RECONSTRUCTION_FEATURE = 'reconstruction';

export interface JointSignal {
  feature: string;
  signal: Signal;
  measures: Record<string, unknown>;
}

/**
 * multivariate_drift signals of a result: each flagged pair and the reconstruction error, plus calm
 * signals for the pairs whose open alert this window no longer flags (it was judged: enough records).
 * Severity by the rulebook's ladder: Δr against 0.2, the error against its threshold.
 */
export async function jointSignals(
  tx: Tx,
  result: DriftResult,
  minSamples: number,
  window: Record<string, unknown>,
): Promise<JointSignal[]> {
  const mv = result.multivariate;
  if (!mv) return [];
  const judged = mv.n >= minSamples;
  const out: JointSignal[] = [];
  const common = { ...window, n: mv.n, pairs_tested: mv.pairs_tested };
  const rec = mv.reconstruction;
  if (rec) {
    out.push({
      feature: RECONSTRUCTION_FEATURE,
      signal: !judged
        ? null
        : rec.flagged
          ? ladderSignal('multivariate_drift', rec.error, rec.threshold)
          : { firing: false },
      measures: {
        ...common,
        reconstruction_error: rec.error,
        reconstruction_expected: rec.expected,
        reconstruction_sd: rec.sd,
        reconstruction_threshold: rec.threshold,
        reconstruction_alpha: rec.alpha,
        explained: rec.explained,
        components: rec.components,
        features: mv.features,
        severity: rec.flagged ? 'warning' : 'none',
      },
    });
  }
  const seen = new Set<string>();
  for (const p of mv.pairs) {
    if (!p.flagged) continue;
    seen.add(p.pair);
    out.push({
      feature: p.pair,
      signal: ladderSignal('multivariate_drift', Math.abs(p.delta), MIN_CORRELATION_DELTA),
      measures: {
        ...common,
        pair: p.pair,
        correlation_baseline: p.baseline,
        correlation_window: p.window,
        correlation_delta: p.delta,
        fisher_z: p.z,
        pvalue: p.pvalue,
        pvalue_adjusted: p.pvalue_adjusted,
        severity: 'warning',
      },
    });
  }
  if (!judged) return out;
  // Open pair alerts this window does not flag are calm in it (their measures, when kept, are shown).
  for (const open of await tx.alerts.list({
    model: result.model,
    kind: 'multivariate_drift',
    status: ['open', 'acknowledged', 'decided', 'snoozed'],
    limit: 1000,
  })) {
    if (open.feature === RECONSTRUCTION_FEATURE || seen.has(open.feature)) continue;
    const p = mv.pairs.find((x) => x.pair === open.feature);
    out.push({
      feature: open.feature,
      signal: { firing: false },
      measures: {
        ...common,
        pair: open.feature,
        ...(p
          ? {
              correlation_baseline: p.baseline,
              correlation_window: p.window,
              correlation_delta: p.delta,
              pvalue_adjusted: p.pvalue_adjusted,
            }
          : {}),
      },
    });
  }
  return out;
}
