import type { AppDeps } from '../context.js';

const DAY_MS = 86_400_000;
// Deleting in slices keeps each write transaction short, so ingest is never blocked for long.
const SLICE = 5_000;

export interface RetentionResult {
  cutoff: number;
  records: number;
  rejections: number;
}

/** Removes raw records and rejections received before now − retention. Safe to call at any time. */
export async function runRetentionTick(
  deps: Pick<AppDeps, 'store' | 'config'>,
  now: number,
): Promise<RetentionResult> {
  const cutoff = now - deps.config.retention.rawRecordsDays * DAY_MS;
  const prune = async (table: 'records' | 'rejections') => {
    let total = 0;
    for (;;) {
      const changes = await deps.store.tx((tx) => tx.records.prune(table, cutoff, SLICE));
      total += changes;
      if (changes < SLICE) return total;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  return { cutoff, records: await prune('records'), rejections: await prune('rejections') };
}
