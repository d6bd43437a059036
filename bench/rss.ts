// RSS of a driftwatch process over a long ingest: BENCH_RECORDS (10,000,000) records of 20 features go to
// POST /v1/ingest in NDJSON batches of BENCH_BATCH (5,000) from 2 clients, against `driftwatch serve` as
// `npm start` runs it (compiled, dist/) on a temp SQLite file with an active 20-feature baseline (so every
// record is aggregated too). The records are stamped over the last 6 days (144 hourly buckets, inside
// raw-record retention). The server's VmRSS is read from /proc/<pid>/status after every batch; printed as a
// curve of each tenth's median, with the peak (VmHWM) and the growth from the first tenth to the last. The
// in-run baseline is the first tenth's median: the ratio last / first is 1.0 when memory is flat.
//
//   npx tsx bench/rss.ts             10M records (target: ≤ 250 MB at the end, flat)
//   npx tsx bench/rss.ts --quick     1M records
// BENCH_RECORDS / BENCH_BATCH override the sizes. DRIFTWATCH_* variables are not passed to the server.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  featureRow,
  postUntilTaken,
  processMemory,
  removeDatabase,
  rng,
  type ServerProcess,
  spawnServer,
  writeResult,
} from './common.js';

const QUICK = process.argv.includes('--quick');
const RECORDS = Number(process.env.BENCH_RECORDS ?? (QUICK ? 1_000_000 : 10_000_000));
const BATCH = Number(process.env.BENCH_BATCH ?? 5_000);
const TARGET_BYTES = 250e6;
const MODEL = 'rss';
const SPAN_MS = 6 * 24 * 3600_000;

async function post(url: string, path: string, body: string, type: string): Promise<void> {
  const res = await postUntilTaken(`${url}${path}`, body, type);
  if (res.status !== 200 && res.status !== 201)
    throw new Error(`${path} answered ${res.status}: ${res.text.slice(0, 500)}`);
}

const db = join(tmpdir(), `driftwatch-rss-${process.pid}.db`);
let server: ServerProcess | null = null;
try {
  // As `npm start` runs it: compiled (scripts/start.mjs builds dist/ first when it is stale). From source,
  // the tsx loader alone adds about 50 MB.
  server = await spawnServer({
    db,
    entry: ['scripts/start.mjs'],
    nodeArgs: process.env.BENCH_PROFILE_DIR
      ? ['--heap-prof', `--heap-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
      : [],
    startTimeoutMs: 300_000,
  });
  const pid = server.child.pid as number;
  const r = rng(3);
  const training = Array.from({ length: 5_000 }, () => JSON.stringify(featureRow(r))).join('\n');
  await post(server.url, `/v1/models/${MODEL}/baselines`, training, 'application/x-ndjson');
  const idle = processMemory(pid).rss;

  const now = Date.now();
  const samples: { records: number; rss: number }[] = [];
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const client = async () => {
    for (;;) {
      const start = next;
      if (start >= RECORDS) return;
      next = Math.min(RECORDS, start + BATCH);
      const lines: string[] = [];
      for (let i = start; i < next; i++) {
        const ts = now - SPAN_MS + Math.floor((i / RECORDS) * SPAN_MS);
        lines.push(
          JSON.stringify({
            model: MODEL,
            request_id: `r${i}`,
            timestamp: ts,
            features: featureRow(r, i % 3 === 0 ? 0.2 : 0),
            prediction: r() < 0.5 ? 1 : 0,
            latency_ms: Math.round(r() * 40),
          }),
        );
      }
      await post(server?.url ?? '', '/v1/ingest', lines.join('\n'), 'application/x-ndjson');
      done += next - start;
      samples.push({ records: done, rss: processMemory(pid).rss });
    }
  };
  await Promise.all([client(), client()]);
  const seconds = (performance.now() - t0) / 1000;
  const end = processMemory(pid);
  // RSS swings with each batch's garbage: each tenth of the records is summed up by its median sample.
  const tenths = Array.from({ length: 10 }, (_, k) => {
    const inTenth = samples
      .filter((x) => x.records > (RECORDS * k) / 10 && x.records <= (RECORDS * (k + 1)) / 10)
      .map((x) => x.rss)
      .sort((a, b) => a - b);
    return { records: (RECORDS * (k + 1)) / 10, rss: inTenth[Math.floor(inTenth.length / 2)] ?? Number.NaN };
  });
  const mb = (b: number) => (b / 1e6).toFixed(0);
  console.log(
    `${RECORDS} records in ${seconds.toFixed(0)} s (${(RECORDS / seconds).toFixed(0)} records/s), batches of ${BATCH} from 2 clients`,
  );
  console.log(`  server RSS: after the baseline upload ${mb(idle)} MB`);
  console.log(
    `  RSS curve, median of each tenth (records: MB): ${tenths.map((t) => `${(t.records / 1e6).toFixed(1)}M: ${mb(t.rss)}`).join(', ')}`,
  );
  const first = tenths[0] as { records: number; rss: number };
  const last = tenths[9] as { records: number; rss: number };
  const growth = (last.rss - first.rss) / ((last.records - first.records) / 1e6);
  console.log(
    `  at the end ${mb(end.rss)} MB, peak (VmHWM) ${mb(end.peak)} MB; from the first tenth to the last ${(growth / 1e6).toFixed(1)} MB per million records`,
  );
  writeResult(
    'rss',
    `${RECORDS} records × 20 features (active baseline, aggregation on) ingested over HTTP in batches of ${BATCH} from 2 clients into a driftwatch process on SQLite; RSS from /proc after every batch`,
    [
      {
        id: `rss.${Math.round(RECORDS / 1e6)}m`,
        figure: `server RSS over the last tenth of ${(RECORDS / 1e6).toFixed(0)}M records (median)`,
        value: last.rss / 1e6,
        unit: 'MB',
        baseline: {
          label: 'median RSS over the first tenth of the records',
          value: first.rss / 1e6,
          unit: 'MB',
        },
        ratio: last.rss / first.rss,
        target: RECORDS >= 10_000_000 ? '≤ 250 MB, flat' : null,
        met: RECORDS >= 10_000_000 ? last.rss <= TARGET_BYTES && last.rss <= first.rss * 1.1 : null,
      },
      {
        id: 'rss.peak',
        figure: 'server peak RSS (VmHWM) during the ingest',
        value: end.peak / 1e6,
        unit: 'MB',
        baseline: { label: 'RSS after the baseline upload, before ingest', value: idle / 1e6, unit: 'MB' },
        ratio: end.peak / idle,
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
  removeDatabase(db);
}
