import { type Config, driftSettingsFor } from '../config/index.js';
import { JointBatch } from '../multivariate/ingest.js';
import { type ColumnBinner, predictionValue } from '../profiles/binner.js';
import {
  type AggregateDelta,
  type AggregateKey,
  type BucketKey,
  type BucketStatsDelta,
  type ColumnTallies,
  MAX_EXTRA_PER_BUCKET,
  type NewRecord,
  type Store,
  type TrafficDelta,
  type Tx,
} from '../store/index.js';
import { addValue, SLOTS, trim } from '../traffic/histogram.js';
import { baselineCache, type LoadedBaseline, type ModelBaselines } from './baseline-cache.js';
import { addOutcome, emptyBucketStats, labelOutcome } from './outcome.js';
import { binaryThresholdFor, PerformanceBatch, RealizedBatch } from './performance.js';

/** A failed request: status "error", or no status but an error message. */
export const isError = (r: Pick<NewRecord, 'status' | 'error'>) =>
  r.status === 'error' || (r.status === null && typeof r.error === 'string' && r.error !== '');

/** Tallies with nothing counted yet. */
export const zeroTallies = (): ColumnTallies => ({
  n: 0,
  missing: 0,
  typeMismatch: 0,
  outOfRange: 0,
  unseen: 0,
  offEdge: 0,
  vmin: null,
  vmax: null,
});

export const bucketStart = (ts: number, bucketMs: number) => Math.floor(ts / bucketMs) * bucketMs;

/** Records binned together column by column (see AggregateBatch.flushRun). */
const RUN = 256;

/** Feature names outside the baseline's schema tracked per bucket (the store enforces it across writers). */
export const MAX_UNKNOWN_FEATURES = MAX_EXTRA_PER_BUCKET;

export interface AggregateOptions {
  /** Count records and label outcomes per bucket (off when re-aggregating records already counted). */
  bucketStats?: boolean;
  /** Tell the drift tick these buckets changed (off for rebuilt history, which is not news). */
  markChanged?: boolean;
}

const emptyDelta = (base: AggregateKey, slots: number): AggregateDelta => ({
  // Spelled out, not spread: object spread gives each of a wide model's ~1,000 deltas its own hidden class, and
  // the per-value loop's property accesses then go megamorphic (measured: 1.5 µs a value against 0.1).
  model: base.model,
  modelVersion: base.modelVersion,
  baselineId: base.baselineId,
  bucketStart: base.bucketStart,
  bucketMs: base.bucketMs,
  role: base.role,
  name: base.name,
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

type BucketSlot = {
  /** (model, version, bucket start, baseline id): the joint batch's key too. */
  key: string;
  /** The same, as an extra feature's delta carries it. */
  base: Omit<AggregateKey, 'role' | 'name'>;
  deltas: AggregateDelta[];
  binners: ColumnBinner[];
  names: string[];
  featureCount: number;
  extra: Map<string, AggregateDelta>;
  known: Map<string, ColumnBinner>;
  ignored: Set<string>;
};

/** What the records of one (model, version, bucket) add to, looked up once for a run of them. */
interface Group {
  model: string;
  modelVersion: string;
  start: number;
  bucketMs: number;
  s: BucketStatsDelta;
  /** Absent when bucket stats are off (re-aggregation). */
  t: TrafficDelta | undefined;
  baseline: LoadedBaseline | null;
  bucket?: BucketSlot;
}

/**
 * Folds stored records into per-bucket aggregates on their baseline's grid and into bucket stats, in
 * memory (`add`, synchronous, no allocation per value), then writes all of it at once (`write`) in the
 * transaction that stored the records — so a record is aggregated exactly when it is stored, never twice.
 * Features absent from the baseline are counted per bucket as role "extra" (a schema signal).
 */
export class AggregateBatch {
  // One slot per (version, baseline, bucket), holding a delta per baseline column in the baseline's own
  // column order: the per-value loop then does no string building and no allocation.
  private readonly buckets = new Map<string, BucketSlot>();
  private readonly stats = new Map<string, BucketStatsDelta>();
  // Per (version, bucket), beside `stats`: requests, errors and the latency histogram (full length while
  // adding, trimmed when written).
  private readonly traffic = new Map<string, TrafficDelta>();
  private readonly changed = new Map<string, BucketKey>();
  private readonly bucketMsByModel = new Map<string, number>();
  private last: Group | undefined;
  // Records waiting to be binned (flushRun), all of runBucket, and their values record by record.
  private readonly run: NewRecord[] = [];
  private runBucket: BucketSlot | undefined;
  private readonly values: unknown[] = [];
  private readonly withStats: boolean;
  private readonly performance: PerformanceBatch;
  private readonly realized: RealizedBatch;
  private readonly joint: JointBatch;

  private constructor(
    private readonly config: Config,
    private readonly models: Map<string, ModelBaselines>,
    private readonly options: AggregateOptions,
  ) {
    this.withStats = options.bucketStats !== false;
    this.performance = new PerformanceBatch(config);
    this.realized = new RealizedBatch(config);
    this.joint = new JointBatch(config);
  }

  /** Loads (through the cache, checked in this transaction) the baselines of the models to come. */
  static async open(
    tx: Tx,
    deps: { store: Store; config: Config },
    models: Iterable<string>,
    options: AggregateOptions = {},
  ): Promise<AggregateBatch> {
    const cache = baselineCache(deps.store);
    const loaded = new Map<string, ModelBaselines>();
    for (const model of new Set(models)) loaded.set(model, await cache.get(tx, model));
    return new AggregateBatch(deps.config, loaded, options);
  }

  /** The stats, traffic and aggregate slots of a record's (model, version, bucket), made on first use. */
  private group(r: NewRecord): Group {
    const { buckets, stats, traffic, changed, bucketMsByModel, withStats } = this;
    let bucketMs = bucketMsByModel.get(r.model);
    if (bucketMs === undefined) {
      bucketMs = driftSettingsFor(this.config, r.model).bucket;
      bucketMsByModel.set(r.model, bucketMs);
    }
    const start = bucketStart(r.ts, bucketMs);

    const statsKey = `${r.model}\u0000${r.modelVersion}\u0000${start}`;
    let s = stats.get(statsKey);
    if (!s) {
      s = emptyBucketStats({ model: r.model, modelVersion: r.modelVersion, bucketStart: start, bucketMs });
      stats.set(statsKey, s);
      changed.set(statsKey, { model: r.model, modelVersion: r.modelVersion, bucketStart: start, bucketMs });
    }
    const entry = this.models.get(r.model);
    if (!entry) throw new Error(`aggregate batch opened without model ${r.model}`);
    const baseline = entry.byVersion.get(r.modelVersion) ?? entry.latest;
    let t: TrafficDelta | undefined;
    if (withStats) {
      t = traffic.get(statsKey);
      if (!t) {
        t = {
          model: r.model,
          modelVersion: r.modelVersion,
          bucketStart: start,
          bucketMs,
          requests: 0,
          errors: 0,
          latencyCount: 0,
          latencySum: 0,
          latencyCounts: new Uint32Array(SLOTS),
        };
        traffic.set(statsKey, t);
      }
    }
    const group: Group = { model: r.model, modelVersion: r.modelVersion, start, bucketMs, s, t, baseline };
    if (!baseline) return group;
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
          {
            model: r.model,
            modelVersion: r.modelVersion,
            baselineId: baseline.id,
            bucketStart: start,
            bucketMs,
            role: roles[i] as 'feature' | 'prediction',
            name: names[i] as string,
          },
          binner.slots,
        ),
      );
      bucket = {
        key,
        base: {
          model: r.model,
          modelVersion: r.modelVersion,
          baselineId: baseline.id,
          bucketStart: start,
          bucketMs,
        },
        deltas,
        binners,
        names,
        featureCount: baseline.features.size,
        extra: new Map(),
        known: baseline.features,
        ignored: baseline.ignored,
      };
      buckets.set(key, bucket);
    }
    group.bucket = bucket;
    return group;
  }

  add(list: readonly NewRecord[]): void {
    const { withStats } = this;
    for (const r of list) {
      // Records mostly come in time order: the previous record's bucket is usually this one's too.
      let g = this.last;
      if (
        !g ||
        g.model !== r.model ||
        g.modelVersion !== r.modelVersion ||
        r.ts < g.start ||
        r.ts >= g.start + g.bucketMs
      )
        g = this.last = this.group(r);
      const { s, t, baseline, bucket, start, bucketMs } = g;
      s.records++;
      if (withStats && r.label !== null)
        addOutcome(
          s,
          labelOutcome(r.prediction, r.label, binaryThresholdFor(this.config, r.model, baseline)),
          1,
        );
      if (t) {
        t.requests++;
        if (isError(r)) t.errors++;
        if (r.latencyMs !== null && r.latencyMs !== undefined) {
          t.latencyCount++;
          t.latencySum += r.latencyMs;
          addValue(t.latencyCounts, r.latencyMs);
        }
      }

      // Like bucket stats, counted once per record (not again when a new baseline's aggregates are rebuilt).
      if (withStats) {
        this.performance.add(r, start, bucketMs, baseline);
        if (r.label !== null) this.realized.add(r, start, bucketMs, baseline);
      }
      if (!baseline || !bucket) continue;
      // Values are binned column by column over a run of records of this bucket (see flushRun); a record that
      // fills the run or starts another bucket flushes it first.
      if (this.runBucket !== bucket || this.run.length === RUN) this.flushRun();
      this.runBucket = bucket;
      this.run.push(r);
      if (baseline.joint) this.joint.add(bucket.key, r, baseline, start, bucketMs);
    }
    this.flushRun();
  }

  /**
   * Features the baseline never saw (usually a renamed or new column upstream), counted per name: only looked
   * for when the record has more keys than the `present` baseline features it carries.
   */
  private countExtra(bucket: BucketSlot, r: NewRecord, present: number): void {
    let keys = r.featureCount;
    if (keys === undefined) {
      keys = 0;
      for (const _ in r.features) keys++;
    }
    if (keys === present) return;
    for (const name in r.features) {
      if (bucket.known.has(name) || bucket.ignored.has(name) || !Object.hasOwn(r.features, name)) continue;
      let d = bucket.extra.get(name);
      if (!d) {
        if (bucket.extra.size >= MAX_UNKNOWN_FEATURES) continue;
        d = emptyDelta({ ...bucket.base, role: 'extra', name }, 0);
        bucket.extra.set(name, d);
      }
      d.n++;
    }
  }

  /**
   * Bins the pending run column by column: a column's grid edges and count vector stay in cache across the
   * run's records, where record by record a wide model's ~1,000 columns (~10 MB of edges and counts) would
   * miss the cache on every value. Each column still takes its values in record order.
   */
  private flushRun(): void {
    const { run, runBucket: bucket } = this;
    if (!bucket || run.length === 0) return;
    const { deltas, binners, names, featureCount } = bucket;
    const rows = run.length;
    const columns = binners.length;
    const values = this.values;
    for (let k = 0; k < rows; k++) {
      const r = run[k] as NewRecord;
      const features = r.features;
      const at = k * columns;
      let present = 0;
      for (let i = 0; i < featureCount; i++) {
        const name = names[i] as string;
        // Own properties only: a missing feature called "constructor" must not read Object.prototype's.
        if (Object.hasOwn(features, name)) {
          values[at + i] = features[name];
          present++;
        } else values[at + i] = undefined;
      }
      for (let i = featureCount; i < columns; i++) values[at + i] = predictionValue(r.prediction);
      this.countExtra(bucket, r, present);
    }
    for (let i = 0; i < columns; i++)
      (binners[i] as ColumnBinner).binColumn(values, i, columns, rows, deltas[i] as AggregateDelta);
    // Drop the references: the scratch outlives the batch's records only until the next run overwrites it.
    values.fill(undefined, 0, rows * columns);
    run.length = 0;
    this.runBucket = undefined;
  }

  /** Writes everything added, additively, in the caller's transaction. */
  async write(tx: Tx, now: number): Promise<void> {
    const deltas: AggregateDelta[] = [];
    for (const b of this.buckets.values()) deltas.push(...b.deltas, ...b.extra.values());
    if (deltas.length > 0) await tx.aggregates.add(deltas, now);
    await this.joint.write(tx, now);
    if (this.withStats && this.stats.size > 0)
      await tx.aggregates.addBucketStats([...this.stats.values()], now);
    if (this.withStats && this.traffic.size > 0)
      await tx.aggregates.addTraffic(
        [...this.traffic.values()].map((t) => ({ ...t, latencyCounts: trim(t.latencyCounts) })),
        now,
      );
    if (this.withStats) {
      const performance = this.performance.deltas();
      if (performance.length > 0) await tx.performance.add(performance, now);
      // After the bucket stats: a label correction's recount holds their lock while it replaces these.
      const realized = this.realized.deltas();
      if (realized.length > 0) await tx.performance.addRealized(realized, now);
    }
    // Rebuilt history is not news for the drift tick: it would re-judge every old window.
    if (this.options.markChanged !== false && this.changed.size > 0)
      await tx.aggregates.markChanged([...this.changed.values()]);
  }
}

/** Aggregates one list of stored records in the caller's transaction (see AggregateBatch). */
export async function aggregateRecords(
  tx: Tx,
  deps: { store: Store; config: Config },
  list: readonly NewRecord[],
  now: number,
  options: AggregateOptions = {},
): Promise<void> {
  if (list.length === 0) return;
  const batch = await AggregateBatch.open(
    tx,
    deps,
    list.map((r) => r.model),
    options,
  );
  batch.add(list);
  await batch.write(tx, now);
}
