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
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { featureRow, removeDatabase, rng, writeResult } from './common.js';

const QUICK = process.argv.includes('--quick');
const RECORDS = Number(process.env.BENCH_RECORDS ?? (QUICK ? 1_000_000 : 10_000_000));
const BATCH = Number(process.env.BENCH_BATCH ?? 5_000);
const TARGET_BYTES = 250e6;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = 'rss';
const SPAN_MS = 6 * 24 * 3600_000;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

interface Server {
  child: ChildProcess;
  url: string;
  stderr(): string;
}

async function startServer(db: string): Promise<Server> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIFTWATCH_')) env[k] = v;
  env.DRIFTWATCH_LOG_LEVEL = 'error';
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--heap-prof', `--heap-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
    : [];
  // As `npm start` runs it: compiled (scripts/start.mjs builds dist/ first when it is stale). From source,
  // the tsx loader alone adds about 50 MB.
  const child = spawn(
    process.execPath,
    [...profile, 'scripts/start.mjs', '--port', String(port), '--db', db],
    { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url, stderr: () => stderr };
    if (Date.now() > deadline) throw new Error(`server did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

async function post(url: string, path: string, body: string, type: string): Promise<void> {
  for (;;) {
    // A 503 (in-flight bound) may come before the body is read: the server then closes the connection.
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    }).catch((err: Error & { cause?: { code?: string } }) => {
      if (err.cause?.code === 'ECONNRESET' || err.cause?.code === 'EPIPE') return null;
      throw err;
    });
    const text = res ? await res.text() : '';
    if (res === null || res.status === 503) {
      await new Promise((done) => setTimeout(done, 50));
      continue;
    }
    if (res.status !== 200 && res.status !== 201)
      throw new Error(`${path} answered ${res.status}: ${text.slice(0, 500)}`);
    return;
  }
}

const db = join(tmpdir(), `driftwatch-rss-${process.pid}.db`);
let server: Server | null = null;
try {
  server = await startServer(db);
  const pid = server.child.pid as number;
  const r = rng(3);
  const training = Array.from({ length: 5_000 }, () => JSON.stringify(featureRow(r))).join('\n');
  await post(server.url, `/v1/models/${MODEL}/baselines`, training, 'application/x-ndjson');
  const idle = memory(pid).rss;

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
      samples.push({ records: done, rss: memory(pid).rss });
    }
  };
  await Promise.all([client(), client()]);
  const seconds = (performance.now() - t0) / 1000;
  const end = memory(pid);
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
