import { baselineCache, baselineFor } from '../aggregates/baseline-cache.js';
import type { AppDeps } from '../context.js';
import type { BucketKey } from '../store/index.js';
import { recountLabels } from './service.js';

// Labels joined before realized_performance existed (a database upgraded from an earlier version) have no
// realized counts: the leader recounts their buckets from the stored records, as a correction does.

type Deps = Pick<AppDeps, 'store' | 'config'>;

/** Buckets examined per tick (one query of key lookups), and recounted at most per tick (a transaction each). */
export const BACKFILL_SCAN = 1_000;
export const BACKFILL_RECOUNTS = 50;
/**
 * A finished pass starts again after this long: labels joined meanwhile by a process of the earlier version
 * (a fleet upgraded one process at a time) are counted too. Complete buckets are only compared.
 */
export const BACKFILL_REST_MS = 6 * 3_600_000;

export interface RealizedBackfillResult {
  examined: number;
  /** Buckets whose counts held fewer labels than their outcomes, recounted from the stored records. */
  recounted: number;
  /** Of those, buckets whose counts the recount raised (the rest: records pruned, or labels none counts). */
  filled: number;
  /** True when this tick finished a pass over every bucket with estimate rows. */
  passDone: boolean;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The realized backfill's tick: walks the buckets of performance-tracked versions in key order, a page per
 * tick, and recounts those whose realized counts hold fewer labels than their outcomes (none counted yet,
 * or only a label joined after the upgrade). A recount replaces the bucket's counts under its stats lock,
 * so a second run, or two leaders overlapping, changes nothing. The position is kept in memory: a new
 * leader starts a pass from the beginning.
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
  // Buckets whose recount found nothing more to count (labels no accumulator takes, records pruned), with the
  // label count they had then: not recounted again until that count changes.
  const settled = new Map<string, number>();
  return async (now: number): Promise<RealizedBackfillResult> => {
    const result: RealizedBackfillResult = { examined: 0, recounted: 0, filled: 0, passDone: false };
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
      if (b.realized >= b.labelled) continue;
      const id = `${b.model}\u0000${b.modelVersion}\u0000${b.bucketStart}\u0000${b.bucketMs}`;
      if (settled.get(id) === b.labelled) continue;
      result.recounted++;
      if (await recountRealized(deps, after, now)) {
        result.filled++;
        settled.delete(id);
      } else settled.set(id, b.labelled);
      await yieldToEventLoop();
    }
    if (page.length < scan) {
      after = null;
      restUntil = now + restMs;
      result.passDone = true;
    }
    return result;
  };
}

/**
 * Replaces one bucket's realized counts with those of its stored labelled records when they hold more
 * labels (its outcomes stay); false when they do not.
 */
async function recountRealized(deps: Deps, key: BucketKey, now: number): Promise<boolean> {
  return deps.store.tx(async (tx) => {
    // Taken first by every label writer: the records read below include every committed label.
    await tx.aggregates.lockBucketStats(key);
    const window = { ...key, from: key.bucketStart, to: key.bucketStart + 1 };
    const stored = (await tx.performance.realizedWindow(window)).reduce((n, r) => n + r.rows, 0);
    const baseline = baselineFor(await baselineCache(deps.store).get(tx, key.model), key.modelVersion);
    const { realized } = await recountLabels(tx, deps.config, key, baseline, null);
    // Records pruned by retention count fewer labels than counts kept since they arrived: never recount
    // down. Rows no accumulator counts (probabilities that are not a distribution) also stop here.
    if (realized.reduce((n, d) => n + d.rows, 0) <= stored) return false;
    await tx.performance.setRealized(key, realized, now);
    return true;
  });
}
