// Overload: the real server (startServer, a temp SQLite file, loadConfig() defaults) runs in this process
// while a forked load process keeps BENCH_CLIENTS (50) clients each POSTing ~BENCH_BODY_MIB (16) MiB
// NDJSON batches to /v1/ingest back to back for BENCH_SECONDS (25) s, and another forked process probes
// GET /healthz every BENCH_PROBE_MS (100) ms twice over: on a new connection each time (as a kubelet does;
// it waits for the server to accept(), and libuv accepts one connection per event-loop pass) and on one
// kept-alive connection (a probe once the previous is answered). Here, the server's event loop is watched
// with perf_hooks.monitorEventLoopDelay and a 10 ms interval's largest gap; RSS is sampled and its kernel
// peak read at the end. Prints /healthz latency, ingest answers by status, records accepted/s, event-loop
// stalls and RSS. Nothing passes or fails: a 503 (an in-flight bound) or a 413 is an outcome to count.
//
//   npx tsx bench/overload.ts
//   BENCH_BASELINE=1        give the model a 20-feature baseline first, so ingest also aggregates
//   BENCH_RETRY_AFTER=0     clients retry a 503 at once instead of sleeping its Retry-After
//   BENCH_DRAIN_SECONDS     how long in-flight requests may finish after the load window (120)
// Server settings come from DRIFTWATCH_* variables / DRIFTWATCH_CONFIG as for `driftwatch serve`.
import { type ChildProcess, fork } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { featureRow, removeDatabase, rng, seedBaseline, startBenchServer } from './common.js';
import type {
  LoadResult,
  LoadSettings,
  ParentMessage,
  ProbeResult,
  ProbeSettings,
  ProbeStats,
} from './overload.child.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 25);
const BODY_BYTES = Math.floor(Number(process.env.BENCH_BODY_MIB ?? 16) * 1024 * 1024);
const PROBE_MS = Number(process.env.BENCH_PROBE_MS ?? 100);
const DRAIN_SECONDS = Number(process.env.BENCH_DRAIN_SECONDS ?? 120);

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;

function start(role: 'load' | 'probe', settings: LoadSettings | ProbeSettings): ChildProcess {
  return fork(join(here, 'overload.child.ts'), [role, JSON.stringify(settings)], {
    execArgv: ['--import', 'tsx'],
    cwd: join(here, '..'),
  });
}

/** The child's next message of `type`, or a rejection if it exits first. */
function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: { type?: string }) => {
      if (m.type !== type) return;
      cleanup();
      resolve(m as T);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`overload child exited (${signal ?? code}) before sending ${type}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

const tell = (child: ChildProcess, m: ParentMessage) => child.send(m);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}
const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);
const spread = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${ms(quantile(sorted, 0.5))}  p99 ${ms(quantile(sorted, 0.99))}  max ${ms(sorted.at(-1) ?? Number.NaN)}`;
};
const statuses = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ') || 'none';

async function main() {
  const path = join(tmpdir(), `driftwatch-bench-overload-${process.pid}.db`);
  removeDatabase(path);
  // The probes' own listener too (server.healthPort), probed by a second prober beside the API port's.
  const server = await startBenchServer(path, { 'server.healthPort': 0 });
  const healthPort = server.healthPort;
  if (healthPort === undefined) throw new Error('no health port');
  if (process.env.BENCH_BASELINE === '1') {
    const r = rng(11);
    const rows = Array.from({ length: 20_000 }, () => JSON.stringify(featureRow(r))).join('\n');
    await seedBaseline(server, 'overload', 'v1', rows);
  }

  const load = start('load', {
    port: server.port,
    clients: CLIENTS,
    seconds: SECONDS,
    bodyBytes: BODY_BYTES,
    honourRetryAfter: process.env.BENCH_RETRY_AFTER !== '0',
    drainSeconds: DRAIN_SECONDS,
  });
  const probe = start('probe', { port: server.port, periodMs: PROBE_MS, graceSeconds: 30 });
  const healthProbe = start('probe', { port: healthPort, periodMs: PROBE_MS, graceSeconds: 30 });
  await Promise.all([message(load, 'ready'), message(probe, 'ready'), message(healthProbe, 'ready')]);
  const loadDone = message<LoadResult>(load, 'result');
  const probeDone = message<ProbeResult>(probe, 'result');
  const healthProbeDone = message<ProbeResult>(healthProbe, 'result');

  // This process's event loop is the server's: watch it from here.
  const rssBefore = process.memoryUsage.rss();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  let last = performance.now();
  let largestGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    largestGap = Math.max(largestGap, now - last);
    last = now;
  }, 10);
  let rssPeakSampled = rssBefore;
  const rssSampler = setInterval(() => {
    rssPeakSampled = Math.max(rssPeakSampled, process.memoryUsage.rss());
  }, 100);

  delay.enable();
  tell(load, { type: 'start' });
  tell(probe, { type: 'start' });
  tell(healthProbe, { type: 'start' });
  const started = performance.now();
  const loadResult = await loadDone;
  const elapsed = performance.now() - started;
  tell(probe, { type: 'stop' });
  tell(healthProbe, { type: 'stop' });
  const probeResult = await probeDone;
  const healthProbeResult = await healthProbeDone;
  delay.disable();
  clearInterval(ticker);
  clearInterval(rssSampler);
  const rssPeak = process.resourceUsage().maxRSS * 1024; // kernel high-water mark since process start

  const model = (await (await server.request('/v1/models/overload')).json()) as { record_count?: number };
  await server.close();
  removeDatabase(path);

  const l = loadResult;
  const line = (label: string, text: string) => console.log(`${label.padEnd(24)}${text}`);
  console.log(
    `${CLIENTS} clients × ${(l.bodyBytes / MiB).toFixed(2)} MiB NDJSON bodies (${l.recordsPerBody.toLocaleString()} records each), ` +
      `${(l.loadMs / 1000).toFixed(0)} s of load + ${(l.drainMs / 1000).toFixed(1)} s to drain, /healthz every ${PROBE_MS} ms, ` +
      `${process.env.BENCH_BASELINE === '1' ? 'aggregation on' : 'aggregation off (no baseline)'}`,
  );
  const probes = (label: string, p: ProbeStats) => {
    const slow = (limit: number) => p.latenciesMs.filter((v) => v > limit).length;
    line(
      label,
      `${spread(p.latenciesMs)}; ${p.sent} sent${p.skipped ? ` (${p.skipped} periods skipped: previous one still out)` : ''}`,
    );
    const failed = p.failedAfterMs.length ? ` (failed after up to ${ms(Math.max(...p.failedAfterMs))})` : '';
    line(
      '',
      `over 1 s: ${slow(1000)}, over 5 s: ${slow(5000)}, unanswered: ${p.unanswered}; ${statuses(p.statuses)}${failed}`,
    );
  };
  probes('healthz, new conn each', probeResult.fresh);
  probes('healthz, kept-alive', probeResult.kept);
  probes('healthPort, new conn', healthProbeResult.fresh);
  probes('healthPort, kept-alive', healthProbeResult.kept);
  line('ingest answers', `${l.latenciesMs.length} by status: ${statuses(l.statuses)}`);
  line('ingest latency', spread(l.latenciesMs));
  line(
    'records accepted',
    `${Math.round(l.accepted / (elapsed / 1000)).toLocaleString()}/s: ${l.accepted.toLocaleString()} in ${(elapsed / 1000).toFixed(1)} s ` +
      `(${l.duplicates} duplicates, ${l.rejected} rejected; GET /v1/models says ${model.record_count?.toLocaleString() ?? 'none'})`,
  );
  line(
    'server event loop',
    `stall max ${ms(delay.max / 1e6)}, p99 ${ms(delay.percentile(99) / 1e6)}, mean ${ms(delay.mean / 1e6)} (monitorEventLoopDelay); ` +
      `largest gap between 10 ms ticks ${ms(largestGap)}`,
  );
  line(
    'server RSS',
    `peak ${(rssPeak / MiB).toFixed(0)} MiB (getrusage; sampled every 100 ms: ${(rssPeakSampled / MiB).toFixed(0)} MiB), ` +
      `${(rssBefore / MiB).toFixed(0)} MiB before the load`,
  );
  line(
    'load side',
    `${l.buffers} body buffers (${((l.buffers * l.bodyBytes) / MiB).toFixed(0)} MiB); own event-loop max: ` +
      `load ${ms(l.ownLoopMaxMs)}, prober ${ms(probeResult.ownLoopMaxMs)}`,
  );
}

await main();
