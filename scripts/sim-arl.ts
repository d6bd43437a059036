/**
 * Measured ARL₀ and detection delay of the sequential (CUSUM) alert against the targets, through the real
 * per-bucket path (resampled baseline → PSI → normal score → CUSUM). Usage: npm run sim:arl [-- streams]
 */

import { meanOf, simulateRunLengths } from '../src/stats/arl-simulation.js';
import type { CusumSide, StandardiseMethod } from '../src/stats/cusum.js';
import { cusumArl, hForArl0, nullMoments } from '../src/stats/cusum.js';

const streams = Number(process.argv[2] ?? 1000);
// Decile bins of a 50,000-row baseline, buckets of 2,000 records.
const baselineCounts = Array.from({ length: 10 }, () => 5000);
const n = 2000;
const nul = nullMoments(baselineCounts, n, { draws: 20_000, seed: 1 });
const k = 0.5;
console.log(
  `baseline: 10 decile bins, buckets of ${n}; PSI null mean ${nul.mean.toExponential(4)} sd ${nul.sd.toExponential(4)} (${nul.draws} draws); ${streams} streams each`,
);

const cases: Array<{ label: string; h: number; side: CusumSide; method: StandardiseMethod }> = [
  { label: "h 5, two-sided (the issue's 465 / 10.4)", h: 5, side: 'two-sided', method: 'gamma' },
  { label: 'h 5, upper', h: 5, side: 'upper', method: 'gamma' },
  {
    label: `arl0 500, upper (h ${hForArl0(500, k, 'upper').toFixed(4)})`,
    h: hForArl0(500, k, 'upper'),
    side: 'upper',
    method: 'gamma',
  },
  {
    label: `arl0 500, two-sided (h ${hForArl0(500, k, 'two-sided').toFixed(4)})`,
    h: hForArl0(500, k, 'two-sided'),
    side: 'two-sided',
    method: 'gamma',
  },
  { label: 'h 5, upper, (x − mean)/sd instead of the gamma score', h: 5, side: 'upper', method: 'moments' },
];
for (const [i, c] of cases.entries()) {
  const base = { baselineCounts, n, nul, k, h: c.h, side: c.side, method: c.method, streams };
  const arl0 = meanOf(simulateRunLengths({ ...base, seed: 1000 + i }));
  const delay = meanOf(simulateRunLengths({ ...base, seed: 2000 + i, shift: 1 }));
  const t0 = cusumArl(0, k, c.h, c.side);
  const t1 = cusumArl(1, k, c.h, c.side);
  const pct = (m: number, t: number) => `${(100 * (m / t - 1)).toFixed(1)}%`;
  console.log(
    `${c.label}: ARL0 ${arl0.toFixed(1)} vs ${t0.toFixed(1)} (${pct(arl0, t0)}); delay at +1 sd ${delay.toFixed(2)} vs ${t1.toFixed(2)} (${pct(delay, t1)})`,
  );
}
