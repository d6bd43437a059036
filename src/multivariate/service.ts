import type { Config, DriftSettings } from '../config/index.js';
import type { Tx, WindowKey } from '../store/index.js';
import { multivariateFor } from './config.js';
import { evaluateJoint, type JointBaseline, type JointEvaluation } from './joint.js';

/** The joint measures of a window for drift evaluation, or null when the model is not watched jointly. */
export async function windowJoint(
  tx: Tx,
  config: Config,
  baseline: { id: number; joint: JointBaseline | null },
  key: WindowKey,
  settings: DriftSettings,
): Promise<JointEvaluation | null> {
  if (!baseline.joint || !multivariateFor(config, key.model).enabled) return null;
  return evaluateJoint(baseline.joint, await tx.comoments.window(key), settings.minSamples);
}
