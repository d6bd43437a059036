// Profiling a wide training CSV (BENCH_ROWS × BENCH_COLS numeric columns, default 5,000 × 1,000: 34 MB) the
// way POST …/baselines does (trainingRows → ProfileBuilder → build), against csv-parse reading the same
// bytes into arrays and nothing else, in the same run. Prints MB/s of both and their ratio.
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { CsvRecord, trainingRows } from '../src/baselines/sources.js';
import { ProfileBuilder } from '../src/profiles/profile.js';
import { rng, writeResult } from './common.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 5_000);
const COLS = Number(process.env.BENCH_COLS ?? 1_000);
const r = rng(7);
const lines = [Array.from({ length: COLS }, (_, j) => `f${j}`).join(',')];
for (let i = 0; i < ROWS; i++)
  lines.push(Array.from({ length: COLS }, () => (r() * 100).toFixed(3)).join(','));
const csv = Buffer.from(`${lines.join('\n')}\n`);
const mb = csv.length / 1e6;
const chunks = () => {
  const out: Buffer[] = [];
  for (let o = 0; o < csv.length; o += 64 * 1024) out.push(csv.subarray(o, o + 64 * 1024));
  return Readable.from(out);
};

async function rawParse(): Promise<number> {
  const t = performance.now();
  let n = 0;
  for await (const _ of chunks().pipe(parse({ columns: false, bom: true }))) n++;
  if (n !== ROWS + 1) throw new Error(`parsed ${n} records`);
  return (performance.now() - t) / 1000;
}

async function profile(): Promise<number> {
  const t = performance.now();
  const b = new ProfileBuilder();
  for await (const row of trainingRows(chunks(), 'csv')) {
    if (row instanceof CsvRecord) b.addValues(row.header, row.values);
    else b.addRow(row);
  }
  const built = await b.build();
  if (built.features.size !== COLS) throw new Error('columns lost');
  return (performance.now() - t) / 1000;
}

const heapBefore = process.memoryUsage().rss;
const raw = Math.min(await rawParse(), await rawParse());
const ours = Math.min(await profile(), await profile());
console.log(`training CSV ${ROWS} × ${COLS} (${mb.toFixed(0)} MB), best of 2:`);
console.log(`  csv-parse into arrays (baseline): ${(mb / raw).toFixed(1)} MB/s`);
console.log(`  parse + profile (POST …/baselines path): ${(mb / ours).toFixed(1)} MB/s`);
console.log(`  ratio: ${(raw / ours).toFixed(2)} of the bare parse`);
console.log(`  RSS growth: ${((process.memoryUsage().rss - heapBefore) / 1e6).toFixed(0)} MB`);
writeResult(
  'baseline-csv',
  `a training CSV of ${ROWS} rows × ${COLS} numeric columns (${mb.toFixed(0)} MB), best of 2`,
  [
    {
      id: 'baseline-csv.profile',
      figure: 'profiling a wide training CSV (POST …/baselines path)',
      value: mb / ours,
      unit: 'MB/s',
      baseline: { label: 'csv-parse into arrays, nothing else', value: mb / raw, unit: 'MB/s' },
      ratio: raw / ours,
      target: null,
      met: null,
    },
  ],
);
