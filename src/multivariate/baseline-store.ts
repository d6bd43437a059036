import type { Config } from '../config/index.js';
import type { ProfileOptions } from '../profiles/profile.js';
import { type CoMoments, coMomentsFromVector, coMomentsToVector } from '../stats/comoments.js';
import type { Tx } from '../store/index.js';
import { type BaselineCoMoments, JointProfileBuilder, type JointStandardisation } from './baseline.js';
import { multivariateFor } from './config.js';

/** The co-moments builder for one upload: the model's configured features, or every plain column. */
export function jointProfileBuilder(config: Config, model: string, profile: ProfileOptions) {
  const mv = multivariateFor(config, model);
  const exclude = new Set([
    ...(profile.exclude ?? []),
    ...(profile.categorical ?? []),
    ...(profile.label ? [profile.label] : []),
    ...(profile.prediction ? [profile.prediction] : []),
  ]);
  return new JointProfileBuilder({
    exclude,
    enabled: mv.enabled,
    ...(mv.features ? { features: mv.features } : {}),
  });
}

export async function storeBaselineCoMoments(
  tx: Tx,
  baselineId: number,
  joint: BaselineCoMoments | null,
): Promise<void> {
  if (!joint) return;
  const { features, mean, sd, lower, upper } = joint;
  // JSON has no infinities: an unbounded side is stored as null.
  const finite = (b: number[] | undefined) => b?.map((x) => (Number.isFinite(x) ? x : null));
  await tx.comoments.putBaseline({
    baselineId,
    standardisation: JSON.stringify({ features, mean, sd, lower: finite(lower), upper: finite(upper) }),
    fit: coMomentsToVector(joint.fit),
    calibration: coMomentsToVector(joint.calibration),
    chunks: chunksToVector(joint.chunks),
  });
}

/** A baseline's stored co-moments, or null when it has none (fewer than 2 numeric features, or off). */
export async function loadBaselineCoMoments(tx: Tx, baselineId: number): Promise<BaselineCoMoments | null> {
  const row = await tx.comoments.baseline(baselineId);
  if (!row) return null;
  const s = JSON.parse(row.standardisation) as Omit<JointStandardisation, 'lower' | 'upper'> & {
    lower?: (number | null)[];
    upper?: (number | null)[];
  };
  const { lower, upper, ...rest } = s;
  return {
    ...rest,
    ...(lower ? { lower: lower.map((x) => x ?? Number.NEGATIVE_INFINITY) } : {}),
    ...(upper ? { upper: upper.map((x) => x ?? Number.POSITIVE_INFINITY) } : {}),
    fit: coMomentsFromVector(row.fit),
    calibration: coMomentsFromVector(row.calibration),
    chunks: row.chunks ? chunksFromVector(row.chunks) : [],
  };
}

/** Chunks stored one vector after another (each starts with its d, so its length is known). */
export function chunksToVector(chunks: readonly CoMoments[]): Float64Array | null {
  if (chunks.length === 0) return null;
  const parts = chunks.map(coMomentsToVector);
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function chunksFromVector(v: Float64Array): CoMoments[] {
  const out: CoMoments[] = [];
  for (let at = 0; at < v.length; ) {
    const d = v[at] as number;
    const len = 2 + 2 * d + (d * (d + 1)) / 2;
    out.push(coMomentsFromVector(v.subarray(at, at + len)));
    at += len;
  }
  return out;
}
