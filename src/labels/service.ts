import { baselineCache, baselineFor, type LoadedBaseline } from '../aggregates/baseline-cache.js';
import { addOutcome, emptyBucketStats, labelOutcome } from '../aggregates/outcome.js';
import { binaryThresholdFor, RealizedBatch } from '../aggregates/performance.js';
import { bucketStart } from '../aggregates/service.js';
import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import type { BucketKey, BucketStatsDelta, Outcomes, PerformanceDelta, Tx } from '../store/index.js';

export interface LabelInput {
  model: string;
  request_id: string;
  label: number | string | boolean | null;
}

export interface LabelResult {
  updated: number;
  unchanged: number;
  not_found: { index: number; model: string; request_id: string }[];
  /** Labels stored on their record that no performance measure counts, each with the reason. */
  unscored: { index: number; model: string; request_id: string; path: string; message: string }[];
}

/**
 * Joins delayed ground truth to stored records and moves the bucket's label outcome from the old label to
 * the new one, so re-sending or correcting a label never counts it twice.
 */
export async function applyLabels(
  deps: Pick<AppDeps, 'store' | 'config' | 'clock'>,
  labels: LabelInput[],
): Promise<LabelResult> {
  const now = deps.clock();
  const result: LabelResult = { updated: 0, unchanged: 0, not_found: [], unscored: [] };
  await deps.store.tx(async (tx) => {
    // A transaction aborted for a deadlock runs again: start the tally afresh.
    Object.assign(result, { updated: 0, unchanged: 0, not_found: [], unscored: [] });
    const deltas: BucketStatsDelta[] = [];
    const recount = new Map<string, BucketStatsDelta>();
    // Realized confusion counts of the first labels of records (corrections recount their bucket).
    const realized = new RealizedBatch(deps.config);
    const baselines = new Map<string, LoadedBaseline | null>();
    const baselineOf = async (model: string, modelVersion: string) => {
      const key = `${model}\u0000${modelVersion}`;
      if (!baselines.has(key))
        baselines.set(key, baselineFor(await baselineCache(deps.store).get(tx, model), modelVersion));
      return baselines.get(key) ?? null;
    };
    // A binary classifier's score is decided at its threshold (configured or from its baseline).
    const thresholdOf = async (model: string, modelVersion: string) =>
      binaryThresholdFor(deps.config, model, await baselineOf(model, modelVersion));
    let lastYield = performance.now();
    // Records are locked as they are read (see below), in one order for every writer, so two batches that
    // label the same records wait for each other instead of deadlocking.
    const order = [...labels.entries()].sort(([, a], [, b]) =>
      a.model === b.model
        ? a.request_id < b.request_id
          ? -1
          : a.request_id > b.request_id
            ? 1
            : 0
        : a.model < b.model
          ? -1
          : 1,
    );
    for (const [index, l] of order) {
      // A large batch of labels gives the event loop a turn every 10 ms (its transaction stays open).
      if ((index & 255) === 255 && performance.now() - lastYield > 10) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      // Locked: another process labelling the same record waits, then sees this label (no double count).
      const row = await tx.records.byRequestId(l.model, l.request_id, { lock: true });
      if (!row) {
        result.not_found.push({ index, model: l.model, request_id: l.request_id });
        continue;
      }
      const prediction = row.prediction === null ? null : JSON.parse(row.prediction);
      const outcome = labelOutcome(prediction, l.label, await thresholdOf(l.model, row.modelVersion));
      if (outcome?.kind === 'unscored') {
        result.unscored.push({
          index,
          model: l.model,
          request_id: l.request_id,
          path: `labels[${index}].label`,
          message: outcome.reason,
        });
      }
      const next = l.label === null ? null : JSON.stringify(l.label);
      if (next === row.label) {
        result.unchanged++;
        continue;
      }
      await tx.records.setLabel(row.id, next);
      result.updated++;
      const bucketMs = driftSettingsFor(deps.config, l.model).bucket;
      const delta = emptyBucketStats({
        model: l.model,
        modelVersion: row.modelVersion,
        bucketStart: bucketStart(row.ts, bucketMs),
        bucketMs,
      });
      if (row.label !== null) {
        // A correction: subtracting the old outcome could cancel catastrophically (a huge error taken out
        // of a sum of small ones leaves rounding noise), so the bucket's label outcomes are recounted
        // from its stored records instead, once the batch has been applied.
        recount.set(`${delta.model}\u0000${delta.modelVersion}\u0000${delta.bucketStart}`, delta);
        continue;
      }
      addOutcome(delta, outcome, 1);
      deltas.push(delta);
      realized.add(
        { model: l.model, modelVersion: row.modelVersion, prediction, label: l.label },
        delta.bucketStart,
        bucketMs,
        await baselineOf(l.model, row.modelVersion),
      );
    }
    result.not_found.sort((a, b) => a.index - b.index);
    result.unscored.sort((a, b) => a.index - b.index);
    await tx.aggregates.addBucketStats(deltas, now);
    await tx.performance.addRealized(realized.deltas(), now);
    for (const key of recount.values()) {
      // The recount reads the bucket's labels after any other writer's changes to them have committed.
      await tx.aggregates.lockBucketStats(key);
      const counted = await recountLabels(
        tx,
        deps.config,
        key,
        await baselineOf(key.model, key.modelVersion),
        await thresholdOf(key.model, key.modelVersion),
      );
      await tx.aggregates.setOutcomes(key, counted.outcomes, now);
      await tx.performance.setRealized(key, counted.realized, now);
    }
    // Performance of those buckets changed: the drift tick re-evaluates them.
    await tx.aggregates.markChanged([...deltas, ...recount.values()]);
  });
  return result;
}

/**
 * A bucket's label outcomes and realized counts, counted whole from its stored labelled records: what a
 * correction writes, and the realized backfill. The caller holds the bucket's stats lock (lockBucketStats).
 */
export async function recountLabels(
  tx: Tx,
  config: AppDeps['config'],
  key: BucketKey,
  baseline: LoadedBaseline | null,
  threshold: number | null,
): Promise<{ outcomes: Omit<Outcomes, 'records'>; realized: PerformanceDelta[] }> {
  const tally = {
    labeled: 0,
    classified: 0,
    correct: 0,
    regressed: 0,
    absErrSum: 0,
    sqErrSum: 0,
    records: 0,
  };
  const counts = new RealizedBatch(config);
  for (const r of await tx.records.labeledIn(
    key.model,
    key.modelVersion,
    key.bucketStart,
    key.bucketStart + key.bucketMs,
  )) {
    const prediction: unknown = r.prediction === null ? null : JSON.parse(r.prediction);
    const label: unknown = JSON.parse(r.label);
    addOutcome(tally, labelOutcome(prediction, label, threshold), 1);
    counts.add(
      { model: key.model, modelVersion: key.modelVersion, prediction, label },
      key.bucketStart,
      key.bucketMs,
      baseline,
    );
  }
  const { records: _records, ...outcomes } = tally;
  return { outcomes, realized: counts.deltas() };
}
