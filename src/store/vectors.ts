/**
 * Element-wise sum of two float64 co-moment vectors (src/stats/comoments.ts layout). Vectors of different
 * lengths belong to different feature sets and are refused rather than mixed.
 */
export function addF64(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length !== b.length)
    throw new Error(`co-moment vectors differ in length (${a.length} vs ${b.length}); not merged`);
  const out = Float64Array.from(a);
  for (let i = 0; i < b.length; i++) out[i] = (out[i] as number) + (b[i] as number);
  return out;
}
