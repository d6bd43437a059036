import type { AppDeps } from '../context.js';
import { driftSettingsFor } from '../config.js';
import type { IngestRecord } from '../ingest/record.js';
import { labelOutcome } from '../labels/outcome.js';
import { predictionValue, type Slotted } from './binner.js';
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
  options: { bucketStats?: boolean } = {},
): void {
  const withStats = options.bucketStats !== false;
  for (const model of new Set(list.map((r) => r.model))) refreshBaselines(deps.db, model);
  const deltas = new Map<string, AggregateDelta>();
  const stats = new Map<string, BucketStatsDelta>();
  const slotted: Slotted = { slot: -1, missing: false, typeMismatch: false, outOfRange: false, unseen: false, offEdge: false };
  const bucketMsByModel = new Map<string, number>();

  const delta = (key: string, init: () => AggregateDelta) => {
    let d = deltas.get(key);
    if (!d) {
      d = init();
      deltas.set(key, d);
    }
    return d;
  };

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
    const columns: [role: 'feature' | 'prediction', name: string, value: unknown, binner: typeof baseline.prediction][] = [];
    for (const [name, binner] of baseline.features) columns.push(['feature', name, r.features[name], binner]);
    if (baseline.prediction) columns.push(['prediction', 'prediction', predictionValue(r.prediction), baseline.prediction]);
    for (const [role, name, value, binner] of columns) {
      if (!binner) continue;
      const key = `${r.model}\u0000${r.modelVersion}\u0000${baseline.id}\u0000${start}\u0000${role}\u0000${name}`;
      const d = delta(key, () => ({
        model: r.model,
        modelVersion: r.modelVersion,
        baselineId: baseline.id,
        bucketStart: start,
        bucketMs,
        role,
        name,
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
      binner.bin(value, slotted);
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
  for (const d of deltas.values()) addAggregate(deps.db, d, now);
  if (withStats) for (const s of stats.values()) addBucketStats(deps.db, s, now);
}

export function addOutcome(s: BucketStatsDelta, o: ReturnType<typeof labelOutcome>, sign: 1 | -1): void {
  if (!o) return;
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
