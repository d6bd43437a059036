import type { Param } from '../sql.js';

export const DAY_MS = 86_400_000;

/** Buckets of this size are rolled up into days once old: shorter than a day, and a whole number per day. */
export const rollsUp = (bucketMs: number): boolean => bucketMs < DAY_MS && DAY_MS % bucketMs === 0;

/**
 * The WHERE condition (and its parameters) of a window [from, to) over buckets of `bucketMs`: its buckets,
 * and the day rows rolled up from such buckets that lie wholly inside it. A day only partly inside is left
 * out: its hours can no longer be told apart. A window aligned with days therefore reads the same totals
 * before and after a rollup.
 */
export function bucketsIn(bucketMs: number, from: number, to: number): [string, Param[]] {
  if (!rollsUp(bucketMs))
    return ['bucket_ms = ? AND bucket_start >= ? AND bucket_start < ?', [bucketMs, from, to]];
  return [
    '(bucket_ms = ? AND bucket_start >= ? AND bucket_start < ? OR bucket_ms = ? AND bucket_start >= ? AND bucket_start <= ?)',
    [bucketMs, from, to, DAY_MS, from, to - DAY_MS],
  ];
}
