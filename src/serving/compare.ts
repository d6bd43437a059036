import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import { jensenShannon, ksTwoSample, psi, wassersteinSorted } from '../stats/index.js';

type Deps = Pick<AppDeps, 'store' | 'clock' | 'config'>;

const DAY = 86_400_000;
// Logged predictions read per version for the comparison of their distributions.
const PREDICTION_SAMPLE = 100_000;

/**
 * How the shadow's predictions are distributed against the active version's, over the logged records of
 * the range: for labels, PSI and the Jensen–Shannon distance of the label shares; for values, the
 * two-sample KS test and the Wasserstein distance.
 */
function predictionDrift(kind: string, active: unknown[], shadow: unknown[]) {
  if (active.length === 0 || shadow.length === 0) return null;
  if (kind === 'classification') {
    const labels = [...new Set([...active, ...shadow].map(String))].sort();
    const count = (list: unknown[]) => labels.map((l) => list.filter((p) => String(p) === l).length);
    const ca = count(active);
    const cb = count(shadow);
    return {
      n_active: active.length,
      n_shadow: shadow.length,
      labels: Object.fromEntries(labels.map((l, i) => [l, { active: ca[i], shadow: cb[i] }])),
      psi: psi(ca, cb),
      js_distance: jensenShannon(ca, cb),
    };
  }
  const na = Float64Array.from(active.filter((p): p is number => typeof p === 'number')).sort();
  const nb = Float64Array.from(shadow.filter((p): p is number => typeof p === 'number')).sort();
  if (na.length === 0 || nb.length === 0) return null;
  const ks = ksTwoSample(na, nb);
  return {
    n_active: na.length,
    n_shadow: nb.length,
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
    const [a, b] = await Promise.all([
      tx.records.predictions(model, active.version, from, to, PREDICTION_SAMPLE),
      tx.records.predictions(model, version, from, to, PREDICTION_SAMPLE),
    ]);
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
        a.map((p) => JSON.parse(p) as unknown),
        b.map((p) => JSON.parse(p) as unknown),
      ),
    };
  });
}
