// Micro-benchmark for the statistics core on 1M values.
// Reports ns per element and ratios against sorting a Float64Array of the same size measured in this run;
// it never passes or fails on time. Run: npx tsx bench/stats.ts [n]
import {
  fineGrid,
  histogram,
  ksFromGrid,
  ksTwoSample,
  quantileEdges,
  wasserstein,
} from '../src/stats/index.js';

// Flags (bench/run.ts passes --quick to every bench) are not the size.
const N = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 1_000_000);

function makeNormals(n: number, seed: number, shift: number): Float64Array {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = shift + Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  }
  return out;
}

/** Median wall time in ns over `reps` runs (after one warm-up). */
function time(reps: number, fn: () => unknown): number {
  fn();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)] as number;
}

const a = makeNormals(N, 1, 0);
const b = makeNormals(N, 2, 0.01);
const deciles = quantileEdges(a, 10);
const fine = fineGrid(a, { maxCells: 1000 }).edges;
const refCounts = histogram(fine, a);
const curCounts = histogram(fine, b);

const reps = 7;
const rows: Array<[string, number, number]> = [];
const baseline = time(reps, () => a.slice().sort());
rows.push(['sort Float64Array (baseline)', baseline, N]);
rows.push(['histogram, 9 decile edges', time(reps, () => histogram(deciles, b)), N]);
rows.push([`histogram, ${fine.length} fine-grid edges`, time(reps, () => histogram(fine, b)), N]);
rows.push(['ksTwoSample 1M vs 1M (asymp)', time(reps, () => ksTwoSample(a, b)), 2 * N]);
rows.push(['wasserstein 1M vs 1M', time(reps, () => wasserstein(a, b)), 2 * N]);
rows.push([
  'ksFromGrid (1000 cells)',
  time(reps, () => ksFromGrid({ edges: fine, refCounts, curCounts })),
  2 * N,
]);

console.log(`n = ${N.toLocaleString('en-US')} values per sample, median of ${reps} runs`);
console.log('operation'.padEnd(36), 'ms'.padStart(9), 'ns/element'.padStart(11), '× sort'.padStart(8));
const sortPerElem = baseline / N;
for (const [name, ns, elems] of rows) {
  const perElem = ns / elems;
  console.log(
    name.padEnd(36),
    (ns / 1e6).toFixed(1).padStart(9),
    perElem.toFixed(1).padStart(11),
    (perElem / sortPerElem).toFixed(2).padStart(8),
  );
}
