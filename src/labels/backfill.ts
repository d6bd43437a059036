import { baselineCache, baselineFor } from '../aggregates/baseline-cache.js';
import type { AppDeps } from '../context.js';
import type { BucketKey } from '../store/index.js';
import { recountLabels } from './service.js';

// Labels joined before realized_performance existed (a database upgraded from an earlier version) have no
// realized counts: the leader recounts their buckets from the stored records, as a correction does.

type Deps = Pick<AppDeps, 'store' | 'config'>;

/** Buckets examined per tick (one query), and recounted at most per tick (one short transaction each). */
export const BACKFILL_SCAN = 1_000;
export const BACKFILL_RECOUNTS = 100;
/**
 * A finished pass starts again after this long: labels joined meanwhile by a process of the earlier version
 * (a fleet upgraded one process at a time) are counted too. Buckets already complete are only compared.
 */
export const BACKFILL_REST_MS = 6 * 3_600_000;

export interface RealizedBackfillResult {
  examined: number;
  recounted: number;
  /** True when this tick finished a pass over every bucket with estimate rows. */
  passDone: boolean;
}

/**
 * The realized backfill's tick: walks the buckets of performance-tracked versions in key order, a page per
 * tick, and recounts those whose realized counts hold fewer rows than their stored labelled records (none
 * counted yet, or a label joined after the upgrade counted alone). A recount replaces the bucket's counts
 * under its stats lock, so a second run, or two leaders overlapping, changes nothing. The position is kept
 * in memory: a new leader starts a pass from the beginning.
 */
export function realizedBackfillTick(
  deps: Deps,
  options: { scan?: number; recounts?: number; restMs?: number } = {},
) {
  const scan = options.scan ?? BACKFILL_SCAN;
  const recounts = options.recounts ?? BACKFILL_RECOUNTS;
  const restMs = options.restMs ?? BACKFILL_REST_MS;
  let after: BucketKey | null = null;
  let restUntil = Number.NEGATIVE_INFINITY;
  return async (now: number): Promise<RealizedBackfillResult> => {
    const result: RealizedBackfillResult = { examined: 0, recounted: 0, passDone: false };
    if (after === null && now < restUntil) return result;
    const page = await deps.store.read((tx) => tx.performance.labelledBuckets(after, scan));
    for (const b of page) {
      if (result.recounted >= recounts) return result;
      result.examined++;
      after = {
        model: b.model,
        modelVersion: b.modelVersion,
        bucketStart: b.bucketStart,
        bucketMs: b.bucketMs,
      };
      // Pruned records leave more counts than labelled records: never recounted down.
      if (b.realized >= b.labelled) continue;
      await recountRealized(deps, after, now);
      result.recounted++;
    }
    if (page.length < scan) {
      after = null;
      restUntil = now + restMs;
      result.passDone = true;
    }
    return result;
  };
}

/** Replaces one bucket's realized counts with those of its stored labelled records (its outcomes stay). */
async function recountRealized(deps: Deps, key: BucketKey, now: number): Promise<void> {
  await deps.store.tx(async (tx) => {
    // Taken first by every label writer: the records read below include every committed label.
    await tx.aggregates.lockBucketStats(key);
    const baseline = baselineFor(await baselineCache(deps.store).get(tx, key.model), key.modelVersion);
    const { realized } = await recountLabels(tx, deps.config, key, baseline, null);
    await tx.performance.setRealized(key, realized, now);
  });
}
