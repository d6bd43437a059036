/**
 * Merge of two float64 co-moment vectors [d, n, missing…, sum…, sumsq…] (src/stats/comoments.ts): the
 * dimension is kept, every other entry adds. Vectors of different dimensions belong to different feature
 * sets and are refused rather than mixed.
 */
export function addCoMoments(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length !== b.length || a[0] !== b[0])
    throw new Error(`co-moment vectors differ in dimension (${a[0]} vs ${b[0]}); not merged`);
  const out = Float64Array.from(a);
  for (let i = 1; i < b.length; i++) out[i] = (out[i] as number) + (b[i] as number);
  return out;
}
