import { finiteCopy, type NumericInput, StatsInputError } from './validate.js';

/**
 * Benjamini–Hochberg adjusted p-values (false discovery rate), in input order:
 * q_(i) = min_{j >= i} min(1, m · p_(j) / j) over the ascending p-values.
 */
export function benjaminiHochberg(pvalues: NumericInput): Float64Array {
  const p = finiteCopy(pvalues, 'pvalues', 'benjaminiHochberg');
  const m = p.length;
  for (let i = 0; i < m; i++) {
    const v = p[i] as number;
    if (v < 0 || v > 1)
      throw new StatsInputError(`benjaminiHochberg: pvalues[${i}] = ${v} is outside [0, 1]`);
  }
  const order = new Uint32Array(m);
  for (let i = 0; i < m; i++) order[i] = i;
  order.sort((x, y) => (p[x] as number) - (p[y] as number));
  const out = new Float64Array(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const idx = order[rank - 1] as number;
    const q = ((p[idx] as number) * m) / rank;
    if (q < running) running = q;
    // m·p/j can round below p when j = m; the exact value never is.
    out[idx] = Math.max(running, p[idx] as number);
  }
  return out;
}
