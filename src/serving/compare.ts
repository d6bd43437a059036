import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import { predictionValue } from '../profiles/binner.js';
import { jensenShannon, ksTwoSample, psi, wassersteinSorted } from '../stats/index.js';

type Deps = Pick<AppDeps, 'store' | 'clock' | 'config'>;

const DAY = 86_400_000;
// Paired predictions read for the comparison of their distributions.
const PREDICTION_SAMPLE = 100_000;

const tooFewPairs = (n: number, minSamples: number) => ({
  status: 'too_few_pairs' as const,
  n_paired: n,
  min_samples: minSamples,
  message: `too few paired requests (${n} of ${minSamples}) to compare the prediction distributions`,
});

/**
 * How the shadow's predictions are distributed against the active version's, over the requests both
 * scored (a shadow enabled for an hour is not compared with a week of the active version's traffic): for
 * labels, PSI and the Jensen–Shannon distance of the label shares; for values, the two-sample KS test and
 * the Wasserstein distance. Fewer pairs than minSamples give no measure: PSI on a handful is noise.
 */
function predictionDrift(kind: string, pairs: { active: unknown; shadow: unknown }[], minSamples: number) {
  if (pairs.length < minSamples) return tooFewPairs(pairs.length, minSamples);
  if (kind === 'classification') {
    // Logged class probabilities are compared by their top class.
    const active = pairs.map((p) => predictionValue(p.active));
    const shadow = pairs.map((p) => predictionValue(p.shadow));
    const labels = [...new Set([...active, ...shadow].map(String))].sort();
    const count = (list: unknown[]) => labels.map((l) => list.filter((p) => String(p) === l).length);
    const ca = count(active);
    const cb = count(shadow);
    return {
      status: 'ok' as const,
      n_paired: pairs.length,
      labels: Object.fromEntries(labels.map((l, i) => [l, { active: ca[i], shadow: cb[i] }])),
      psi: psi(ca, cb),
      js_distance: jensenShannon(ca, cb),
    };
  }
  const numeric = pairs.filter(
    (p): p is { active: number; shadow: number } =>
      typeof p.active === 'number' && typeof p.shadow === 'number',
  );
  if (numeric.length < minSamples) return tooFewPairs(numeric.length, minSamples);
  const na = Float64Array.from(numeric.map((p) => p.active)).sort();
  const nb = Float64Array.from(numeric.map((p) => p.shadow)).sort();
  const ks = ksTwoSample(na, nb);
  return {
    status: 'ok' as const,
    n_paired: numeric.length,
    ks_statistic: ks.statistic,
    ks_pvalue: ks.pvalue,
    wasserstein: wassersteinSorted(na, nb),
  };
}

/**
 * How a shadow version compares with the active one on the live requests both scored: agreement (share of
 * equal labels, or mean absolute difference for regression), both latencies, and the shadow's errors.
 */
export async function compareShadow(
  deps: Deps,
  model: string,
  version: string,
  range: { from?: number | undefined; to?: number | undefined },
) {
  const to = range.to ?? deps.clock() + 3_600_000;
  const from = range.from ?? to - 7 * DAY;
  return deps.store.read(async (tx) => {
    const versions = await tx.serving.list(model);
    const shadow = versions.find((v) => v.version === version);
    if (!shadow) throw new ApiError('not_found', `model ${model} has no served version ${version}`);
    const active = versions.find((v) => v.state === 'active');
    if (!active) throw new ApiError('conflict', `model ${model} has no active version to compare with`);
    const s = await tx.serving.shadowStats(model, active.version, version, from, to);
    const pairs = await tx.records.pairedPredictions(
      model,
      active.version,
      version,
      from,
      to,
      PREDICTION_SAMPLE,
    );
    const scored = s.n - s.errors;
    const kind = (JSON.parse(active.manifest) as { output: { kind: string } }).output.kind;
    return {
      model,
      active_version: active.version,
      shadow_version: version,
      shadow_state: shadow.state,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      requests: s.n,
      errors: s.errors,
      ...(kind === 'classification'
        ? { agreement: scored > 0 ? s.agree / scored : null }
        : { mean_abs_difference: scored > 0 ? s.absDiffSum / scored : null }),
      latency_ms: {
        active_mean: s.n > 0 ? s.activeLatencySum / s.n : null,
        shadow_mean: s.n > 0 ? s.shadowLatencySum / s.n : null,
      },
      prediction_drift: predictionDrift(
        kind,
        pairs.map((p) => ({
          active: JSON.parse(p.active) as unknown,
          shadow: JSON.parse(p.shadow) as unknown,
        })),
        driftSettingsFor(deps.config, model).minSamples,
      ),
    };
  });
}
