// Wide model end to end against a driftwatch process: a training CSV of BENCH_ROWS (50,000) rows × BENCH_COLS
// (1,000) numeric columns is written to a temp file and streamed to POST …/baselines; as many production
// records (a third of the features shifted) go to POST /v1/ingest in batches from 2 clients; then POST
// …/drift/run judges the latest window. The server is its own process (`driftwatch serve` from source, a temp
// SQLite file), so its RSS is its own: sampled from /proc/<pid>/status every 200 ms and read as VmHWM (the
// kernel's peak) at the end. The in-run baseline is csv-parse reading the same file into arrays in this
// process: the ratio is the whole upload + ingest + drift run over that bare parse.
//
//   npx tsx bench/wide.ts            50k + 50k rows (target: ≤ 60 s, ≤ 1 GB RSS)
//   npx tsx bench/wide.ts --full     1M + 1M rows (target: ≤ 5 min, ≤ 1 GB RSS)
//   npx tsx bench/wide.ts --quick    5k + 5k rows
// The server's baselines.maxBytes is raised to 64 GiB (a config file) for the 7 GB file of --full.
// BENCH_ROWS / BENCH_COLS override the sizes; BENCH_PROFILE_DIR writes the server's CPU profile there. DRIFTWATCH_* variables are not passed to the server.
import { createReadStream, createWriteStream, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import {
  normal,
  postUntilTaken,
  processMemory,
  removeDatabase,
  rng,
  type ServerProcess,
  spawnServer,
  writeResult,
} from './common.js';

const FULL = process.argv.includes('--full');
const QUICK = process.argv.includes('--quick');
const ROWS = Number(process.env.BENCH_ROWS ?? (FULL ? 1_000_000 : QUICK ? 5_000 : 50_000));
const COLS = Number(process.env.BENCH_COLS ?? 1_000);
// 200 records of 1,000 features a batch: a batch is aggregated in one synchronous stretch.
const BATCH = Math.max(1, Math.floor(200_000 / COLS));
const LIMIT_S = FULL ? 300 : 60;
const LIMIT_BYTES = 1024 ** 3;
const MODEL = 'wide';

/** A feature value: column j's own location and scale, three decimals (as a training export would write). */
const value = (r: () => number, j: number, shift: number) =>
  ((j % 7) * 10 + normal(r) * (1 + (j % 5)) + shift).toFixed(3);

async function writeCsv(path: string): Promise<number> {
  const out = createWriteStream(path);
  const r = rng(11);
  const write = (s: string) =>
    out.write(s) ? Promise.resolve() : new Promise<void>((done) => out.once('drain', () => done()));
  await write(`${Array.from({ length: COLS }, (_, j) => `f${j}`).join(',')}\n`);
  const cells = new Array<string>(COLS);
  for (let i = 0; i < ROWS; i++) {
    for (let j = 0; j < COLS; j++) cells[j] = value(r, j, 0);
    await write(`${cells.join(',')}\n`);
  }
  await new Promise<void>((done, fail) => out.end((err?: Error | null) => (err ? fail(err) : done())));
  return statSync(path).size;
}

async function bareParse(path: string): Promise<number> {
  const t = performance.now();
  let n = 0;
  for await (const _ of createReadStream(path, { highWaterMark: 256 * 1024 }).pipe(parse({ columns: false })))
    n++;
  if (n !== ROWS + 1) throw new Error(`csv-parse read ${n} records`);
  return (performance.now() - t) / 1000;
}

/** Seconds each ingest batch took, from the first try to its 200. */
const batches: number[] = [];

async function ingest(url: string): Promise<void> {
  const r = rng(23);
  let next = 0;
  const features = new Array<string>(COLS);
  const client = async () => {
    for (;;) {
      const start = next;
      if (start >= ROWS) return;
      next = Math.min(ROWS, start + BATCH);
      const lines: string[] = [];
      for (let i = start; i < next; i++) {
        // A third of the features moved by one unit: the drift run has something to find.
        for (let j = 0; j < COLS; j++) features[j] = `"f${j}":${value(r, j, j % 3 === 0 ? 1 : 0)}`;
        lines.push(`{"model":"${MODEL}","request_id":"r${i}","features":{${features.join(',')}}}`);
      }
      const body = lines.join('\n');
      const sent = performance.now();
      const res = await postUntilTaken(`${url}/v1/ingest`, body, 'application/x-ndjson', 100);
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${res.text.slice(0, 500)}`);
      batches.push((performance.now() - sent) / 1000);
    }
  };
  await Promise.all([client(), client()]);
}

const dir = tmpdir();
const csvPath = join(dir, `driftwatch-wide-${process.pid}.csv`);
const db = join(dir, `driftwatch-wide-${process.pid}.db`);
const configPath = join(dir, `driftwatch-wide-${process.pid}.json`);
let server: ServerProcess | null = null;
try {
  const tGen = performance.now();
  const bytes = await writeCsv(csvPath);
  console.log(
    `training CSV: ${ROWS} rows × ${COLS} columns, ${(bytes / 1e6).toFixed(0)} MB (written in ${((performance.now() - tGen) / 1000).toFixed(1)} s)`,
  );
  const parseS = await bareParse(csvPath);
  console.log(`  csv-parse of the file into arrays (baseline): ${parseS.toFixed(1)} s`);

  // A 1M-row training file of 1,000 columns is about 7 GB, past baselines.maxBytes' default of 1 GiB.
  writeFileSync(configPath, JSON.stringify({ baselines: { maxBytes: 64 * 1024 ** 3 } }));
  server = await spawnServer({
    db,
    entry: ['--import', 'tsx', 'src/main.ts', 'serve'],
    nodeArgs: process.env.BENCH_PROFILE_DIR
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
      : [],
    // The drift tick would judge windows on its own while records arrive: the run below is the one measured.
    env: { DRIFTWATCH_DRIFT_SCHEDULE: '0 0 1 1 *', DRIFTWATCH_CONFIG: configPath },
  });
  const pid = server.child.pid as number;
  const curve: { s: number; rss: number }[] = [];
  const t0 = performance.now();
  const sampler = setInterval(() => {
    try {
      curve.push({ s: (performance.now() - t0) / 1000, rss: processMemory(pid).rss });
    } catch {
      // the process has gone; the end of the run reports it
    }
  }, 200);
  const idle = processMemory(pid).rss;

  const tUpload = performance.now();
  const upload = await fetch(`${server.url}/v1/models/${MODEL}/baselines`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv' },
    body: Readable.toWeb(createReadStream(csvPath, { highWaterMark: 256 * 1024 })) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const uploadText = await upload.text();
  if (upload.status !== 201)
    throw new Error(`baseline upload answered ${upload.status}: ${uploadText.slice(0, 500)}`);
  const uploadS = (performance.now() - tUpload) / 1000;
  const afterUpload = processMemory(pid);
  console.log(
    `  POST …/baselines: ${uploadS.toFixed(1)} s (${(bytes / 1e6 / uploadS).toFixed(1)} MB/s), RSS peak so far ${(afterUpload.peak / 1e6).toFixed(0)} MB`,
  );

  const tIngest = performance.now();
  await ingest(server.url);
  const ingestS = (performance.now() - tIngest) / 1000;
  console.log(
    `  ingest of ${ROWS} records: ${ingestS.toFixed(1)} s (${(ROWS / ingestS).toFixed(0)} records/s), ${batches.length} batches of ${BATCH}, the slowest ${batches.reduce((m, b) => Math.max(m, b), 0).toFixed(1)} s`,
  );

  const tDrift = performance.now();
  const run = await fetch(`${server.url}/v1/models/${MODEL}/drift/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const runBody = (await run.json()) as { results?: { features: { drifted: boolean | null }[] }[] };
  if (run.status !== 200) throw new Error(`drift run answered ${run.status}: ${JSON.stringify(runBody)}`);
  const driftS = (performance.now() - tDrift) / 1000;
  const judged = runBody.results?.[0]?.features ?? [];
  const drifted = judged.filter((f) => f.drifted === true).length;
  console.log(
    `  drift run: ${driftS.toFixed(1)} s, ${judged.length} features judged, ${drifted} drifted (${Math.ceil(COLS / 3)} shifted)`,
  );
  clearInterval(sampler);
  const end = processMemory(pid);
  const total = uploadS + ingestS + driftS;
  console.log(`  total: ${total.toFixed(1)} s (${(total / parseS).toFixed(1)}× the bare parse)`);
  console.log(
    `  server RSS: idle ${(idle / 1e6).toFixed(0)} MB, peak (VmHWM) ${(end.peak / 1e6).toFixed(0)} MB, at the end ${(end.rss / 1e6).toFixed(0)} MB`,
  );
  const step = Math.max(1, Math.floor(curve.length / 12));
  console.log(
    `  RSS curve (s: MB): ${curve
      .filter((_, i) => i % step === 0)
      .map((p) => `${p.s.toFixed(0)}: ${(p.rss / 1e6).toFixed(0)}`)
      .join(', ')}`,
  );
  const id = FULL ? 'wide-model.full' : 'wide-model';
  writeResult(
    'wide',
    `${ROWS} training rows × ${COLS} numeric columns (${(bytes / 1e6).toFixed(0)} MB CSV) uploaded, ${ROWS} records ingested (2 clients, ${BATCH} a batch), one drift run, against a driftwatch process on SQLite`,
    [
      {
        id,
        figure: `upload + ingest + drift run, ${ROWS} + ${ROWS} rows × ${COLS} features`,
        value: total,
        unit: 's',
        baseline: { label: 'csv-parse of the training file into arrays', value: parseS, unit: 's' },
        ratio: total / parseS,
        target: `≤ ${LIMIT_S} s and ≤ 1 GB RSS`,
        met: total <= LIMIT_S && end.peak <= LIMIT_BYTES,
      },
      {
        id: `${id}.rss`,
        figure: 'server peak RSS (VmHWM)',
        value: end.peak / 1e6,
        unit: 'MB',
        baseline: { label: 'server RSS before the upload', value: idle / 1e6, unit: 'MB' },
        ratio: end.peak / idle,
        target: '≤ 1 GB',
        met: end.peak <= LIMIT_BYTES,
      },
      {
        id: `${id}.upload`,
        figure: 'POST …/baselines of the training CSV',
        value: uploadS,
        unit: 's',
        baseline: { label: 'csv-parse of the same file', value: parseS, unit: 's' },
        ratio: uploadS / parseS,
        target: null,
        met: null,
      },
    ],
  );
} catch (err) {
  console.error(err);
  if (server) console.error(server.stderr());
  process.exitCode = 1;
} finally {
  if (server && server.child.exitCode === null) {
    const exited = new Promise((done) => server?.child.once('exit', done));
    server.child.kill('SIGTERM');
    const kill = setTimeout(() => server?.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(kill);
  }
  rmSync(csvPath, { force: true });
  rmSync(configPath, { force: true });
  removeDatabase(db);
}
