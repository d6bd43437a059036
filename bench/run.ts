// Runs every bench script in bench/ in sequence, each in its own tsx child process (so one bench's heap,
// database and event loop do not colour the next), then renders BENCHMARKS.md from the summaries they
// write to bench/results/<bench>.json (writeResult in common.ts). Bench scripts are the bench/*.ts files
// other than this one, common.ts, and *.child.ts (processes a bench starts itself).
//
//   npm run bench                  all of them, in name order
//   npm run bench -- --quick       the quick versions (flags are passed to every bench)
//   npm run bench -- ingest stats  only those whose name contains one of the words
//   npm run bench -- --render      no bench runs: BENCHMARKS.md from the results already there
// Environment variables (BENCH_*) pass through. Exits non-zero if a bench crashed; never on timings.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult, Figure } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const resultsDir = join(here, 'results');
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const filters = args.filter((a) => !a.startsWith('--'));
const QUICK = flags.includes('--quick');

/** The machine and the moment a run started: written with the results, so --render can say it again. */
interface RunInfo {
  startedAt: string;
  cores: number;
  cpu: string;
  node: string;
  loadAverage: number[];
  quick: boolean;
  benches: string[];
  failed: string[];
  /** Every bench run so far for this file (this run and earlier ones): name → when, and whether it failed. */
  history: Record<string, { at: string; failed: boolean }>;
}

// The issue's targets, matched to the figure (by id) a bench writes. A target whose figure no bench wrote
// shows as "not measured".
const TARGETS: { target: string; bench: string; id: string }[] = [
  {
    target: 'PostgreSQL ingest ≥ 0.9 of raw pg multi-row INSERTs, same connections and durability',
    bench: 'fleet',
    id: 'fleet.pg.same-durability',
  },
  {
    target: 'PostgreSQL ingest ≥ 0.5 of raw pg with 8 connections, fsync off',
    bench: 'fleet',
    id: 'fleet.pg.vs-raw',
  },
  {
    target: 'SQLite ingest from outside ≥ 0.5 of raw better-sqlite3 inserts',
    bench: 'ingest',
    id: 'ingest.sqlite.outside',
  },
  {
    target: 'SQLite ingest (bench/ingest.ts, aggregation on) ≥ 0.7 of raw',
    bench: 'ingest',
    id: 'ingest.sqlite.on',
  },
  {
    target: 'predict p95 ≤ 5 ms with self-logging on, on/off ≤ 1.10 at p95',
    bench: 'predict',
    id: 'predict.p95.on',
  },
  { target: 'drift series ≤ 10 ms', bench: 'ui', id: 'ui.drift-series' },
  {
    target: 'aggregate storage ≤ 10 KB per 20-feature hourly bucket',
    bench: 'storage',
    id: 'storage.bucket',
  },
  {
    target: 'wide model, 1,000 features, 50k + 50k rows: ≤ 60 s, ≤ 1 GB',
    bench: 'wide',
    id: 'wide-model',
  },
  {
    target: 'wide model, 1,000 features, 1M + 1M rows: ≤ 5 min, ≤ 1 GB (bench/wide.ts --full)',
    bench: 'wide',
    id: 'wide-model.full',
  },
  {
    target: 'drift run over a 1M-record window × 20 features ≤ 25 ms',
    bench: 'drift',
    id: 'drift.run.1000000',
  },
  { target: 'RSS after 10M records ≤ 250 MB, flat', bench: 'rss', id: 'rss.10m' },
];

const benchScripts = () =>
  readdirSync(here)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && f !== 'common.ts' && !f.endsWith('.child.ts'))
    .sort();

function previousRun(): RunInfo | null {
  const file = join(resultsDir, 'run.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RunInfo) : null;
}

function runBenches(): RunInfo {
  const scripts = benchScripts().filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)));
  if (scripts.length === 0) {
    console.error(`no bench script matches ${filters.join(', ')}`);
    process.exit(2);
  }
  const info: RunInfo = {
    startedAt: new Date().toISOString(),
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
    quick: QUICK,
    benches: scripts.map((s) => s.replace(/\.ts$/, '')),
    failed: [],
    history: previousRun()?.history ?? {},
  };
  mkdirSync(resultsDir, { recursive: true });
  for (const script of scripts) {
    const name = script.replace(/\.ts$/, '');
    // A crashed bench must not leave an older run's figures looking current.
    rmSync(join(resultsDir, `${name}.json`), { force: true });
    console.log(`\n=== bench/${script}`);
    const started = Date.now();
    // process.execPath is node; tsx is loaded the way the tsx CLI itself does it.
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(here, script), ...flags], {
      stdio: 'inherit',
      cwd: root,
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    info.history[name] = { at: new Date(started).toISOString(), failed: result.status !== 0 };
    if (result.status === 0) console.log(`=== bench/${script}: done in ${seconds} s`);
    else {
      info.failed.push(name);
      console.log(
        `=== bench/${script}: FAILED (${result.signal ?? `exit ${result.status}`}) after ${seconds} s`,
      );
    }
  }
  writeFileSync(join(resultsDir, 'run.json'), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

function readResults(): BenchResult[] {
  if (!existsSync(resultsDir)) return [];
  return readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json') && f !== 'run.json')
    .sort()
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as BenchResult);
}

const num = (v: number) =>
  Math.abs(v) >= 1000
    ? Math.round(v).toLocaleString('en-US')
    : Math.abs(v) >= 100
      ? v.toFixed(0)
      : Math.abs(v) >= 10
        ? v.toFixed(1)
        : v.toFixed(2);
const value = (v: number, unit: string) => `${num(v)} ${unit}`;
const met = (m: boolean | null) => (m === null ? '—' : m ? 'met' : '**not met**');
const cell = (s: string) => s.replace(/\|/g, '\\|');
const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');

function render(info: RunInfo | null, results: BenchResult[]): string {
  const byId = new Map<string, { bench: BenchResult; figure: Figure }>();
  for (const bench of results) for (const figure of bench.figures) byId.set(figure.id, { bench, figure });
  const out: string[] = [
    '# Benchmarks',
    '',
    '<!-- Written by bench/run.ts (`npm run bench`) from bench/results/*.json; edit those scripts, not this file. -->',
    '',
  ];
  if (info) {
    out.push(
      `Last run ${info.startedAt.slice(0, 16).replace('T', ' ')} UTC (${info.benches.join(', ')})${info.quick ? ' with the quick versions (`npm run bench -- --quick`)' : ''} ` +
        `on a **shared, busy machine**: ${info.cores} cores (${info.cpu}), Node ${info.node}, ` +
        `load average at the start ${load(info.loadAverage)} (1 / 5 / 15 min), with other test runs on the same cores. ` +
        'Absolute times are noisy here: each figure is compared with a baseline measured in the same run ' +
        '(interleaved with it where the bench allows), and the ratio is the figure to read. Each bench ' +
        'below gives its own time and load average.',
      '',
    );
    if (info.failed.length > 0) out.push(`Benches that failed in this run: ${info.failed.join(', ')}.`, '');
    // Benches run on their own since (npx tsx bench/<name>.ts) left newer results than that run.
    const fromRun = (r: BenchResult) => {
      const at = info.history[r.bench]?.at;
      return at !== undefined && Math.abs(Date.parse(r.startedAt) - Date.parse(at)) < 60_000;
    };
    const later = results.filter((r) => !fromRun(r));
    if (later.length > 0)
      out.push(
        `Run on their own since, each on its date below: ${later.map((r) => r.bench).join(', ')}.`,
        '',
      );
  }
  out.push(
    '## The targets',
    '',
    '| target | bench | measured | in-run baseline | ratio | |',
    '|---|---|---|---|---|---|',
  );
  for (const t of TARGETS) {
    const hit = byId.get(t.id);
    if (!hit) {
      out.push(
        `| ${cell(t.target)} | ${t.bench === '(none)' ? '—' : `bench/${t.bench}.ts`} | not measured | | | |`,
      );
      continue;
    }
    const f = hit.figure;
    out.push(
      `| ${cell(t.target)} | bench/${hit.bench.bench}.ts | ${value(f.value, f.unit)} | ` +
        `${f.baseline ? `${value(f.baseline.value, f.baseline.unit)} (${cell(f.baseline.label)})` : '—'} | ` +
        `${f.ratio === null ? '—' : f.ratio.toFixed(3)} | ${met(f.met)} |`,
    );
  }
  out.push('');
  for (const bench of results) {
    out.push(
      `## bench/${bench.bench}.ts`,
      '',
      `${cell(bench.setup)}. ${bench.quick ? 'Quick version; ' : ''}run ${bench.startedAt.slice(0, 16).replace('T', ' ')} UTC, ` +
        `load average ${load(bench.loadAverage.start)} at its start, ${load(bench.loadAverage.end)} at its end.`,
      '',
      '| figure | value | in-run baseline | ratio | target | |',
      '|---|---|---|---|---|---|',
    );
    for (const f of bench.figures) {
      out.push(
        `| ${cell(f.figure)} | ${value(f.value, f.unit)} | ` +
          `${f.baseline ? `${value(f.baseline.value, f.baseline.unit)} (${cell(f.baseline.label)})` : '—'} | ` +
          `${f.ratio === null ? '—' : f.ratio.toFixed(3)} | ${f.target === null ? '—' : cell(f.target)} | ${met(f.met)} |`,
      );
    }
    out.push('');
  }
  const history = info?.history ?? {};
  const silent = Object.keys(history)
    .sort()
    .filter((b) => !results.some((r) => r.bench === b) && !history[b]?.failed);
  if (silent.length > 0) {
    out.push(
      `Also run, printing their figures to the console only: ${silent
        .map((b) => `bench/${b}.ts (${history[b]?.at.slice(0, 16).replace('T', ' ')} UTC)`)
        .join(', ')}.`,
      '',
    );
  }
  const notRun = benchScripts()
    .map((f) => f.replace(/\.ts$/, ''))
    .filter((b) => !results.some((r) => r.bench === b) && !(b in history));
  if (notRun.length > 0)
    out.push(`Not run for this file: ${notRun.map((b) => `bench/${b}.ts`).join(', ')}.`, '');
  return out.join('\n');
}

let info: RunInfo | null = null;
if (flags.includes('--render')) {
  info = previousRun();
} else {
  info = runBenches();
}
writeFileSync(join(root, 'BENCHMARKS.md'), render(info, readResults()));
console.log(`\nBENCHMARKS.md written from ${resultsDir}`);
if (info && info.failed.length > 0) {
  console.log(`\n${info.failed.length} of ${info.benches.length} benches failed: ${info.failed.join(', ')}`);
  process.exitCode = 1;
}
