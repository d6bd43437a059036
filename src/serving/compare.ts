import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';

type Deps = Pick<AppDeps, 'store' | 'clock' | 'config'>;

const DAY = 86_400_000;

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
      // Prediction drift between the two: GET /v1/models/:model/drift?model_version=… for each version;
      // both are aggregated against the model's baseline like any logged version.
    };
  });
}
