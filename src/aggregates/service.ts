import type { AppDeps } from '../context.js';
import { driftSettingsFor } from '../config.js';
import type { IngestRecord } from '../ingest/record.js';
import { labelOutcome } from '../labels/outcome.js';
import { type ColumnBinner, predictionValue, type Slotted } from './binner.js';
import { refreshBaselines, resolveBaseline } from './baseline-cache.js';
import { addAggregate, addBucketStats, type AggregateDelta, type BucketStatsDelta } from './queries.js';

export const bucketStart = (ts: number, bucketMs: number) => Math.floor(ts / bucketMs) * bucketMs;

/**
 * Folds newly stored records into per-bucket aggregates on their baseline's grid and into bucket stats.
 * Runs inside the ingest transaction, so a record is aggregated exactly when it is stored (never twice).
 */
export function aggregateRecords(
  deps: Pick<AppDeps, 'db' | 'config'>,
  list: readonly IngestRecord[],
  now: number,
  options: { bucketStats?: boolean; markChanged?: boolean } = {},
): void {
  const withStats = options.bucketStats !== false;
  for (const model of new Set(list.map((r) => r.model))) refreshBaselines(deps.db, model);
  // One slot per (version, baseline, bucket), holding a delta per baseline column in the baseline's own
  // column order: the per-value loop then does no string building and no allocation.
  const buckets = new Map<string, { deltas: AggregateDelta[]; binners: ColumnBinner[]; names: string[] }>();
  const stats = new Map<string, BucketStatsDelta>();
  const slotted: Slotted = { slot: -1, missing: false, typeMismatch: false, outOfRange: false, unseen: false, offEdge: false };
  const bucketMsByModel = new Map<string, number>();

  for (const r of list) {
    let bucketMs = bucketMsByModel.get(r.model);
    if (bucketMs === undefined) {
      bucketMs = driftSettingsFor(deps.config, r.model).bucket;
      bucketMsByModel.set(r.model, bucketMs);
    }
    const start = bucketStart(r.ts, bucketMs);

    const statsKey = `${r.model}\u0000${r.modelVersion}\u0000${start}`;
    let s = stats.get(statsKey);
    if (!s) {
      s = { model: r.model, modelVersion: r.modelVersion, bucketStart: start, bucketMs, records: 0, labeled: 0, classified: 0, correct: 0, regressed: 0, absErrSum: 0, sqErrSum: 0 };
      stats.set(statsKey, s);
    }
    s.records++;
    if (withStats && r.label !== null) addOutcome(s, labelOutcome(r.prediction, r.label), 1);

    const baseline = resolveBaseline(deps.db, r.model, r.modelVersion);
    if (!baseline) continue;
    const key = `${statsKey}\u0000${baseline.id}`;
    let bucket = buckets.get(key);
    if (!bucket) {
      const names = [...baseline.features.keys()];
      const binners = [...baseline.features.values()];
      const roles: ('feature' | 'prediction')[] = names.map(() => 'feature');
      if (baseline.prediction) {
        names.push('prediction');
        binners.push(baseline.prediction);
        roles.push('prediction');
      }
      const deltas = binners.map((binner, i) => ({
        model: r.model,
        modelVersion: r.modelVersion,
        baselineId: baseline.id,
        bucketStart: start,
        bucketMs,
        role: roles[i] as 'feature' | 'prediction',
        name: names[i] as string,
        n: 0,
        missing: 0,
        typeMismatch: 0,
        outOfRange: 0,
        unseen: 0,
        offEdge: 0,
        vmin: null,
        vmax: null,
        counts: new Uint32Array(binner.slots),
      }));
      bucket = { deltas, binners, names };
      buckets.set(key, bucket);
    }
    const { deltas, binners, names } = bucket;
    const featureCount = baseline.features.size;
    for (let i = 0; i < binners.length; i++) {
      const d = deltas[i] as AggregateDelta;
      const name = names[i] as string;
      // Own properties only: a missing feature called "constructor" must not read Object.prototype's.
      const value = i < featureCount ? (Object.hasOwn(r.features, name) ? r.features[name] : undefined) : predictionValue(r.prediction);
      (binners[i] as ColumnBinner).bin(value, slotted);
      if (slotted.slot >= 0) {
        d.n++;
        d.counts[slotted.slot] = (d.counts[slotted.slot] as number) + 1;
        if (typeof value === 'number') {
          if (d.vmin === null || value < d.vmin) d.vmin = value;
          if (d.vmax === null || value > d.vmax) d.vmax = value;
        }
      }
      if (slotted.offEdge) d.offEdge++;
      if (slotted.missing) d.missing++;
      if (slotted.typeMismatch) d.typeMismatch++;
      if (slotted.outOfRange) d.outOfRange++;
      if (slotted.unseen) d.unseen++;
    }
  }
  // Rebuilt history (markChanged: false) is not news for the drift tick: it would re-judge every old window.
  const changedAt = options.markChanged === false ? 0 : now;
  for (const b of buckets.values()) for (const d of b.deltas) addAggregate(deps.db, d, changedAt);
  if (withStats) for (const s of stats.values()) addBucketStats(deps.db, s, now);
}

export function addOutcome(s: BucketStatsDelta, o: ReturnType<typeof labelOutcome>, sign: 1 | -1): void {
  if (!o || o.kind === 'unscored') return;
  s.labeled += sign;
  if (o.kind === 'classification') {
    s.classified += sign;
    if (o.correct) s.correct += sign;
  } else {
    s.regressed += sign;
    s.absErrSum += sign * Math.abs(o.error);
    s.sqErrSum += sign * o.error * o.error;
  }
}
