import type { AppDeps } from '../context.js';
import { pruneSlice } from './queries.js';

const DAY_MS = 86_400_000;
// Deleting in slices keeps each write transaction short, so ingest is never blocked for long.
const SLICE = 5_000;

export interface RetentionResult {
  cutoff: number;
  records: number;
  rejections: number;
}

/** Removes raw records and rejections received before now − retention. Safe to call at any time. */
export function runRetentionTick(deps: Pick<AppDeps, 'db' | 'config'>, now: number): RetentionResult {
  const cutoff = now - deps.config.retention.rawRecordsDays * DAY_MS;
  const prune = (table: 'records' | 'rejections') => {
    let total = 0;
    for (;;) {
      const changes = pruneSlice(deps.db, table, cutoff, SLICE);
      total += changes;
      if (changes < SLICE) return total;
    }
  };
  return { cutoff, records: prune('records'), rejections: prune('rejections') };
}
