import type { Config } from '../config/index.js';
import { driftSettingsFor } from '../config/index.js';
import { DAY_MS, rollsUp } from '../store/repos/buckets.js';
import type { RollupCandidate, Store } from '../store/types.js';

/** What the rollup needs: the config and a store's transactions. */
interface RollupDeps {
  store: Pick<Store, 'read' | 'tx'>;
  config: Config;
}

export interface RollupResult {
  /** Days before this (UTC midnight) are rolled up. */
  cutoff: number;
  /** Days merged into day rows this run (a version and bucket size each). */
  days: number;
  /** Bucket rows merged into them. */
  rows: number;
  /** Days old enough but not rolled up yet: raw records of them are still kept (retention.rawRecordsDays). */
  waiting: number;
  /** Aggregate rows of closed buckets whose count vectors were rewritten deflated. */
  compacted: number;
}

// Buckets that closed this recently are compacted on every run: late records re-sparsify a row they merge into.
const COMPACT_DAYS = 2;

/** UTC midnight before which buckets are rolled up into days (retention.hourlyDays back from `now`). */
export function rollupCutoff(config: Config, now: number): number {
  const horizon = now - config.retention.hourlyDays * DAY_MS;
  return horizon - (((horizon % DAY_MS) + DAY_MS) % DAY_MS);
}

/**
 * Merges the aggregates, bucket stats, co-moments and performance sums of drift buckets older than
 * `retention.hourlyDays` into one row per UTC day (bucket_ms = one day), which window reads add to the
 * buckets of the days they cover wholly. Each day is one transaction that deletes its buckets' rows
 * (DELETE … RETURNING) and adds them to the day's rows: an interrupted run leaves every day either merged
 * or untouched, and a second run — or a deposed leader's run at the same time — finds nothing left to add.
 * Also compacts (deflates) the count vectors of buckets that closed in the last two days and of the days it
 * writes: ingest merges sparse vectors, and a bucket stops changing once closed.
 */
export async function runRollupTick(
  deps: RollupDeps,
  now: number,
  options: { maxDays?: number } = {},
): Promise<RollupResult> {
  const cutoff = rollupCutoff(deps.config, now);
  const candidates = await deps.store.read((tx) => tx.aggregates.rollupCandidates(cutoff));
  const result: RollupResult = { cutoff, days: 0, rows: 0, waiting: 0, compacted: 0 };
  for (const c of candidates) {
    if (options.maxDays !== undefined && result.days >= options.maxDays) break;
    // Only the model's own bucket size: rows of an earlier size stay apart, as window reads leave them out.
    const bucket = driftSettingsFor(deps.config, c.model).bucket;
    if (c.bucketMs !== bucket || !rollsUp(bucket)) continue;
    const rows = await rollUpDay(deps, c, now);
    if (rows === null) {
      result.waiting++;
      continue;
    }
    result.rows += rows;
    result.days++;
    // One day per transaction, with a turn of the event loop between: ingest is never held up for long.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // Closed buckets keep their count vectors deflated; the open ones stay sparse, cheap for ingest to merge.
  const from = now - COMPACT_DAYS * DAY_MS;
  const versions = await deps.store.read((tx) => tx.models.list());
  for (const v of versions) {
    if (v.lastTs < from) continue;
    const key = { model: v.model, modelVersion: v.modelVersion, from, to: now, closedBy: now };
    result.compacted += await deps.store.tx((tx) => tx.aggregates.compact(key));
  }
  return result;
}

/** Thrown inside a day's transaction to roll it back: the day still has raw records. */
class RecordsKept extends Error {}

/**
 * Merges one day's bucket rows into its day row; null (nothing changed) while raw records of the day are kept:
 * a label correction recounts its bucket from them, which would count again what the day row holds. The check
 * runs after the day's rows are taken, in the same transaction, so a record that commits before it is seen.
 */
async function rollUpDay(
  deps: Pick<RollupDeps, 'store'>,
  c: RollupCandidate,
  now: number,
): Promise<number | null> {
  const range = {
    model: c.model,
    modelVersion: c.modelVersion,
    bucketMs: c.bucketMs,
    from: c.day,
    to: c.day + DAY_MS,
  };
  const toDay = <T extends { bucketStart: number; bucketMs: number }>(rows: T[]): T[] =>
    rows.map((r) => ({ ...r, bucketStart: c.day, bucketMs: DAY_MS }));
  const day = { model: c.model, modelVersion: c.modelVersion, from: c.day, to: c.day + DAY_MS };
  return deps.store
    .tx(async (tx) => {
      const aggregates = await tx.aggregates.take(range);
      const stats = await tx.aggregates.takeBucketStats(range);
      const comoments = await tx.comoments.take(range);
      const performance = await tx.performance.take(range);
      const realized = await tx.performance.takeRealized(range);
      if (await tx.aggregates.keepsRecords(day)) throw new RecordsKept();
      // Added oldest bucket first, the order a window read adds them in.
      await tx.aggregates.add(toDay(aggregates), now);
      await tx.aggregates.addBucketStats(toDay(stats), now);
      await tx.comoments.add(toDay(comoments), now);
      await tx.performance.add(toDay(performance), now);
      await tx.performance.addRealized(toDay(realized), now);
      await tx.aggregates.compact({ ...range, closedBy: range.to });
      return aggregates.length + stats.length + comoments.length + performance.length + realized.length;
    })
    .catch((err: unknown) => {
      if (err instanceof RecordsKept) return null;
      throw err;
    });
}
