import type { Config } from '../config/index.js';
import { type CoMoments, coMomentsToVector, emptyCoMoments } from '../stats/comoments.js';
import type { NewRecord, Tx } from '../store/index.js';
import { multivariateFor } from './config.js';
import { addRecord, type JointBaseline } from './joint.js';

interface Slot {
  model: string;
  modelVersion: string;
  baselineId: number;
  bucketStart: number;
  bucketMs: number;
  acc: CoMoments;
  z: Float64Array;
}

/**
 * The co-moments part of an AggregateBatch: one accumulator per (version, baseline, bucket) of baselines
 * watched jointly, written additively in the batch's transaction with the other aggregates.
 */
export class JointBatch {
  private readonly slots = new Map<string, Slot>();
  private readonly enabled = new Map<string, boolean>();

  constructor(private readonly config: Config) {}

  /** `key` identifies (model, version, bucket, baseline), as the batch's own slots do. */
  add(
    key: string,
    r: NewRecord,
    baseline: { id: number; joint: JointBaseline | null },
    bucketStart: number,
    bucketMs: number,
  ): void {
    const joint = baseline.joint;
    if (!joint) return;
    let slot = this.slots.get(key);
    if (!slot) {
      let on = this.enabled.get(r.model);
      if (on === undefined) {
        on = multivariateFor(this.config, r.model).enabled;
        this.enabled.set(r.model, on);
      }
      if (!on) return;
      slot = {
        model: r.model,
        modelVersion: r.modelVersion,
        baselineId: baseline.id,
        bucketStart,
        bucketMs,
        acc: emptyCoMoments(joint.features.length),
        z: new Float64Array(joint.features.length),
      };
      this.slots.set(key, slot);
    }
    addRecord(slot.acc, joint, r.features, slot.z);
  }

  async write(tx: Tx, now: number): Promise<void> {
    if (this.slots.size === 0) return;
    await tx.comoments.add(
      [...this.slots.values()].map((s) => ({
        model: s.model,
        modelVersion: s.modelVersion,
        baselineId: s.baselineId,
        bucketStart: s.bucketStart,
        bucketMs: s.bucketMs,
        vector: coMomentsToVector(s.acc),
      })),
      now,
    );
  }
}
