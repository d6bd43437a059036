import type { Config } from '../config/index.js';
import type { ProfileOptions } from '../profiles/profile.js';
import { coMomentsFromVector, coMomentsToVector } from '../stats/comoments.js';
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
  const { features, mean, sd } = joint;
  await tx.comoments.putBaseline({
    baselineId,
    standardisation: JSON.stringify({ features, mean, sd } satisfies JointStandardisation),
    fit: coMomentsToVector(joint.fit),
    calibration: coMomentsToVector(joint.calibration),
  });
}

/** A baseline's stored co-moments, or null when it has none (fewer than 2 numeric features, or off). */
export async function loadBaselineCoMoments(tx: Tx, baselineId: number): Promise<BaselineCoMoments | null> {
  const row = await tx.comoments.baseline(baselineId);
  if (!row) return null;
  const s = JSON.parse(row.standardisation) as JointStandardisation;
  return {
    ...s,
    fit: coMomentsFromVector(row.fit),
    calibration: coMomentsFromVector(row.calibration),
  };
}
