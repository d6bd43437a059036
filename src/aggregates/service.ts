import { type Config, driftSettingsFor } from '../config.js';
import { type ColumnBinner, predictionValue, type Slotted } from '../profiles/binner.js';
import type { AggregateDelta, BucketKey, BucketStatsDelta, NewRecord, Store, Tx } from '../store/index.js';
import { baselineCache } from './baseline-cache.js';
import { addOutcome, labelOutcome } from './outcome.js';

export const bucketStart = (ts: number, bucketMs: number) => Math.floor(ts / bucketMs) * bucketMs;

/** Feature names outside the baseline's schema tracked per bucket; beyond it the rest are not named. */
export const MAX_UNKNOWN_FEATURES = 50;

export interface AggregateOptions {
  /** Count records and label outcomes per bucket (off when re-aggregating records already counted). */
  bucketStats?: boolean;
  /** Tell the drift tick these buckets changed (off for rebuilt history, which is not news). */
  markChanged?: boolean;
}

const emptyDelta = (base: Omit<AggregateDelta, 'n' | 'missing' | 'typeMismatch' | 'outOfRange' | 'unseen' | 'offEdge' | 'vmin' | 'vmax' | 'counts'>, slots: number): AggregateDelta => ({
  ...base,
  n: 0,
  missing: 0,
  typeMismatch: 0,
  outOfRange: 0,
  unseen: 0,
  offEdge: 0,
  vmin: null,
  vmax: null,
  counts: new Uint32Array(slots),
});

/**
 * Folds newly stored records into per-bucket aggregates on their baseline's grid and into bucket stats.
 * Runs inside the transaction that stores the records, so a record is aggregated exactly when it is
 * stored (never twice). Features absent from the baseline are counted per bucket as role "extra"
 * (a schema signal for data quality).
 */
export async function aggregateRecords(
  tx: Tx,
  deps: { store: Store; config: Config },
  list: readonly NewRecord[],
  now: number,
  options: AggregateOptions = {},
): Promise<void> {
  if (list.length === 0) return;
  const withStats = options.bucketStats !== false;
  const cache = baselineCache(deps.store);
  const models = new Map<string, Awaited<ReturnType<typeof cache.get>>>();
  for (const model of new Set(list.map((r) => r.model))) models.set(model, await cache.get(tx, model));
  // One slot per (version, baseline, bucket), holding a delta per baseline column in the baseline's own
  // column order: the per-value loop then does no string building and no allocation.
  const buckets = new Map<
    string,
    { deltas: AggregateDelta[]; binners: ColumnBinner[]; names: string[]; featureCount: number; extra: Map<string, AggregateDelta>; known: Map<string, ColumnBinner>; ignored: Set<string> }
  >();
  const stats = new Map<string, BucketStatsDelta>();
  const changed = new Map<string, BucketKey>();
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
      changed.set(statsKey, { model: r.model, modelVersion: r.modelVersion, bucketStart: start, bucketMs });
    }
    s.records++;
    if (withStats && r.label !== null) addOutcome(s, labelOutcome(r.prediction, r.label), 1);

    const entry = models.get(r.model);
    const baseline = entry ? (entry.byVersion.get(r.modelVersion) ?? entry.latest) : null;
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
      const deltas = binners.map((binner, i) =>
        emptyDelta(
          { model: r.model, modelVersion: r.modelVersion, baselineId: baseline.id, bucketStart: start, bucketMs, role: roles[i] as 'feature' | 'prediction', name: names[i] as string },
          binner.slots,
        ),
      );
      bucket = { deltas, binners, names, featureCount: baseline.features.size, extra: new Map(), known: baseline.features, ignored: baseline.ignored };
      buckets.set(key, bucket);
    }
    const { deltas, binners, names, featureCount } = bucket;
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
    // Features the baseline never saw: usually a renamed or new column upstream.
    for (const name in r.features) {
      if (bucket.known.has(name) || bucket.ignored.has(name) || !Object.hasOwn(r.features, name)) continue;
      let d = bucket.extra.get(name);
      if (!d) {
        if (bucket.extra.size >= MAX_UNKNOWN_FEATURES) continue;
        d = emptyDelta({ model: r.model, modelVersion: r.modelVersion, baselineId: baseline.id, bucketStart: start, bucketMs, role: 'extra', name }, 0);
        bucket.extra.set(name, d);
      }
      d.n++;
    }
  }
  const deltas: AggregateDelta[] = [];
  for (const b of buckets.values()) deltas.push(...b.deltas, ...b.extra.values());
  await tx.aggregates.add(deltas, now);
  if (withStats) await tx.aggregates.addBucketStats([...stats.values()], now);
  // Rebuilt history is not news for the drift tick: it would re-judge every old window.
  if (options.markChanged !== false) await tx.aggregates.markChanged([...changed.values()]);
}
