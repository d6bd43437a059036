// Predict: the real server (`driftwatch serve` from source, as `npm run dev` runs it, each on its own temp
// SQLite file, the repo's models/ directory, so it serves the demo weather model's newest version, 2)
// answering POST /v1/models/weather/predict at a fixed rate, open-loop: request i is sent at
// t0 + i / BENCH_RATE whether or not the earlier ones were answered, and its latency counts from that
// scheduled time, so a stalled server shows up in the tail instead of slowing the load down. Bodies are
// single instances ({"features": {…}}) drawn from the Seattle weather rows.
//
// Three targets, measured in the same run, in slices that rotate their order (so load from other
// processes falls on all of them alike):
//   logging on   a server with the default serving.logPredictions: true (every prediction is ingested)
//   logging off  a second server with serving.logPredictions: false (a config file via DRIFTWATCH_CONFIG)
//   direct       the same model in this process through onnxruntime-node: InferenceSession.create on
//                models/weather/2/model.onnx with the worker's session options, inputs standardised
//                with the manifest's means and stds — what the endpoint costs over calling the model
// Server RSS is VmRSS from /proc of the server process and of its model processes (one child per loaded
// version, found through /proc/<pid>/task/*/children), sampled every 250 ms while it is under load.
// Server CPU is utime + stime from /proc of the server and its model processes over the measured slices,
// per request sent: on a loaded machine latency mostly measures the neighbours, CPU time much less so.
// Prints a table and the ratios on/off (the logging overhead; target ≤ 1.10) and HTTP/direct (the
// endpoint overhead). Nothing passes or fails on time.
//
//   npx tsx bench/predict.ts [--quick]
//   BENCH_RATE      requests/s (500)
//   BENCH_SECONDS   measured seconds per target (20; --quick: 6), after 2 s of warm-up each
//   BENCH_SLICES    slices per target the measured time is split into (4; --quick: 2)
//   BENCH_MAX_IN_FLIGHT  the servers' server.maxInFlight (default: the config default, 16). At 500 requests/s
//                   a stall of ~30 ms fills 16 slots, and what arrives then is answered 503 at once: those
//                   are counted as errors, not as latencies.
//   BENCH_PROFILE_DIR    write each server's CPU profiles (node --cpu-prof) under it, in server-<pid>-on|off/
// DRIFTWATCH_* variables are not passed to the servers; their log level is `error`.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { removeDatabase, writeResult } from './common.js';

const QUICK = process.argv.includes('--quick');
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 6 : 20));
const SLICES = Math.max(1, Number(process.env.BENCH_SLICES ?? (QUICK ? 2 : 4)));
const MAX_IN_FLIGHT = process.env.BENCH_MAX_IN_FLIGHT ? Number(process.env.BENCH_MAX_IN_FLIGHT) : undefined;
const WARMUP_SECONDS = 2;
const MODEL = 'weather';
const VERSION = '2';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WEATHER_CSV = join(ROOT, 'node_modules/vega-datasets/data/seattle-weather.csv');
const MODEL_DIR = join(ROOT, 'models', MODEL, VERSION);
const MiB = 1024 * 1024;

type Features = { precipitation: number; temp_max: number; temp_min: number; wind: number };

function weatherRows(): Features[] {
  const [header, ...lines] = readFileSync(WEATHER_CSV, 'utf8').trim().split(/\r?\n/);
  if (header !== 'date,precipitation,temp_max,temp_min,wind,weather')
    throw new Error(`unexpected header in ${WEATHER_CSV}: ${header}`);
  return lines.map((line) => {
    const [, p, tmax, tmin, wind] = line.split(',');
    return { precipitation: Number(p), temp_max: Number(tmax), temp_min: Number(tmin), wind: Number(wind) };
  });
}

/** A deterministic shuffle, so every run sends the same rows in the same order. */
function shuffled<T>(list: T[], seed: number): T[] {
  const out = [...list];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

// ---- servers ----

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Server {
  label: string;
  port: number;
  child: ChildProcess;
  db: string;
  configFile: string;
  stderr(): string;
  agent: Agent;
}

async function startServer(label: string, logPredictions: boolean): Promise<Server> {
  const tag = `${process.pid}-${logPredictions ? 'on' : 'off'}`;
  const db = join(tmpdir(), `driftwatch-bench-predict-${tag}.db`);
  removeDatabase(db);
  const configFile = join(tmpdir(), `driftwatch-bench-predict-${tag}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      serving: { logPredictions, modelsDir: join(ROOT, 'models') },
      log: { level: 'error' },
      ...(MAX_IN_FLIGHT === undefined ? {} : { server: { maxInFlight: MAX_IN_FLIGHT } }),
    }),
  );
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIFTWATCH_')) env[k] = v;
  env.DRIFTWATCH_CONFIG = configFile;
  // One directory per server: the main thread and tsx's loader thread each write a profile.
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_PROFILE_DIR, `server-${tag}`)}`]
    : [];
  const child = spawn(
    process.execPath,
    [...profile, '--import', 'tsx', 'src/main.ts', 'serve', '--port', String(port), '--db', db],
    { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const server: Server = {
    label,
    port,
    child,
    db,
    configFile,
    stderr: () => stderr,
    agent: new Agent({ keepAlive: true, maxSockets: 256 }),
  };
  // Ready once the model answers (the version is registered and its model process loaded).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${label}: server exited (${child.signalCode ?? child.exitCode}):\n${stderr}`);
    try {
      const r = await post(server, JSON.stringify({ features: { ...weatherRows()[0] } }));
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${label}: no 200 from predict within 60 s:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return server;
}

async function stopServer(s: Server): Promise<void> {
  s.agent.destroy();
  if (s.child.exitCode === null && s.child.signalCode === null) {
    const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
    s.child.kill('SIGTERM');
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  removeDatabase(s.db);
  rmSync(s.configFile, { force: true });
}

function post(s: Server, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: s.port,
        path: `/v1/models/${MODEL}/predict`,
        method: 'POST',
        agent: s.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function getJson(s: Server, path: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${s.port}${path}`);
  return { status: res.status, json: await res.json() };
}

/** The server's event-loop delay since the previous scrape (prom-client resets its histogram on each). */
async function loopLag(s: Server): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
  const read = (name: string) =>
    Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? Number.NaN) * 1000;
  return { p99: read('nodejs_eventloop_lag_p99_seconds'), max: read('nodejs_eventloop_lag_max_seconds') };
}

// ---- memory ----

function vmRssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // the process is gone
  }
}

function childPids(pid: number): number[] {
  const pids: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone, or no /proc (not Linux): no children counted
  }
  return pids;
}

function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.find((a) => a.endsWith('.ts') || a.endsWith('.js')) ?? argv[0] ?? '?';
  } catch {
    return '?';
  }
}

interface Rss {
  server: number;
  models: number;
  children: number;
  pids: number[];
}

function sampleRss(pid: number): Rss {
  const kids = childPids(pid);
  return {
    server: vmRssBytes(pid),
    models: kids.reduce((n, k) => n + vmRssBytes(k), 0),
    children: kids.length,
    pids: kids,
  };
}

/** utime + stime of a process in ms, from /proc/<pid>/stat (0 when gone or not Linux). */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces) start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

function cpuOf(pid: number): { server: number; children: Map<number, number> } {
  return { server: cpuMsOf(pid), children: new Map(childPids(pid).map((k) => [k, cpuMsOf(k)])) };
}

// ---- load ----

interface Target {
  label: string;
  server?: Server;
  /** Sends one request with body `i`; resolves with an error text, or null when answered correctly. */
  send(i: number): Promise<string | null>;
  latencies: number[];
  errors: Map<string, number>;
  sent: number;
  lateMs: number; // how far behind schedule the sender got at worst
  warmupOk: number; // answered correctly during warm-up
  rssPeak: Rss;
  rssLast: Rss;
  /** Model processes seen under load: pid → what it runs. */
  seen: Map<number, string>;
  /** CPU time (user + system) spent during the measured slices by the server process and by its model processes. */
  cpuMs: { server: number; models: number };
}

/** Open-loop: every request at its scheduled time, latency from that time. */
async function drive(target: Target, seconds: number, offset: number, record: boolean): Promise<void> {
  const total = Math.round(seconds * RATE);
  const interval = 1000 / RATE;
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const cpuPid = record ? target.server?.child.pid : undefined;
  const cpuBefore = cpuPid === undefined ? null : cpuOf(cpuPid);
  const sampler =
    record && target.server
      ? setInterval(() => {
          const r = sampleRss(target.server?.child.pid ?? 0);
          target.rssLast = r;
          for (const pid of r.pids) if (!target.seen.has(pid)) target.seen.set(pid, commandOf(pid));
          if (r.server + r.models > target.rssPeak.server + target.rssPeak.models) target.rssPeak = r;
        }, 250)
      : undefined;
  let next = 0;
  while (next < total) {
    const now = performance.now();
    while (next < total && t0 + next * interval <= now) {
      const scheduled = t0 + next * interval;
      if (record) target.lateMs = Math.max(target.lateMs, now - scheduled);
      const i = offset + next;
      pending.push(
        target.send(i).then(
          (err) => {
            if (!record) {
              if (err === null) target.warmupOk++;
              return;
            }
            target.sent++;
            if (err === null) target.latencies.push(performance.now() - scheduled);
            else target.errors.set(err, (target.errors.get(err) ?? 0) + 1);
          },
          (e: unknown) => {
            if (!record) return;
            target.sent++;
            const key = e instanceof Error ? e.message : String(e);
            target.errors.set(key, (target.errors.get(key) ?? 0) + 1);
          },
        ),
      );
      next++;
    }
    const wait = t0 + next * interval - performance.now();
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(wait, 5))));
  }
  await Promise.all(pending);
  if (sampler) clearInterval(sampler);
  if (cpuPid !== undefined && cpuBefore) {
    const after = cpuOf(cpuPid);
    target.cpuMs.server += after.server - cpuBefore.server;
    // Model processes present at both ends (a restarted one is not counted).
    for (const [pid, ms] of after.children) {
      const before = cpuBefore.children.get(pid);
      if (before !== undefined) target.cpuMs.models += ms - before;
    }
  }
}

function httpTarget(label: string, server: Server, bodies: string[]): Target {
  return {
    label,
    server,
    send: async (i) => {
      const r = await post(server, bodies[i % bodies.length] as string);
      if (r.status !== 200) {
        let message = '';
        try {
          message = (JSON.parse(r.body) as { error?: { message?: string } }).error?.message ?? '';
        } catch {
          // not the error envelope
        }
        // Counted by kind: the message without the numbers in it.
        return `HTTP ${r.status}${message ? ` ${message.replace(/\d+/g, 'N').slice(0, 100)}` : ''}`;
      }
      const out = JSON.parse(r.body) as { model_version?: string; predictions?: unknown[] };
      if (out.model_version !== VERSION) return `answered by version ${out.model_version}`;
      return out.predictions?.length === 1 ? null : 'no prediction';
    },
    latencies: [],
    errors: new Map(),
    sent: 0,
    lateMs: 0,
    warmupOk: 0,
    rssPeak: { server: 0, models: 0, children: 0, pids: [] },
    rssLast: { server: 0, models: 0, children: 0, pids: [] },
    seen: new Map(),
    cpuMs: { server: 0, models: 0 },
  };
}

interface ManifestPart {
  inputs: { name: string }[];
  preprocessing: { standardize: Record<string, { mean: number; std: number }> };
  onnx: { input: string };
  output: { probabilities: string; labels: string[] };
}

async function directTarget(rows: Features[]): Promise<Target> {
  const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as ManifestPart;
  // The worker's session options (src/serving/runner/worker.ts), serving.threads = 1.
  const session = await ort.InferenceSession.create(join(MODEL_DIR, 'model.onnx'), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const names = manifest.inputs.map((i) => i.name as keyof Features);
  const labels = manifest.output.labels;
  return {
    label: 'direct onnxruntime',
    send: async (i) => {
      const row = rows[i % rows.length] as Features;
      const data = new Float32Array(names.length);
      names.forEach((name, c) => {
        const s = manifest.preprocessing.standardize[name];
        data[c] = s ? (row[name] - s.mean) / s.std : row[name];
      });
      const out = await session.run({
        [manifest.onnx.input]: new ort.Tensor('float32', data, [1, names.length]),
      });
      const p = out[manifest.output.probabilities]?.data as Float32Array | undefined;
      if (!p || p.length !== labels.length) return 'no probabilities';
      let best = 0;
      for (let k = 1; k < p.length; k++) if ((p[k] as number) > (p[best] as number)) best = k;
      return labels[best] === undefined ? 'no label' : null;
    },
    latencies: [],
    errors: new Map(),
    sent: 0,
    lateMs: 0,
    warmupOk: 0,
    rssPeak: { server: 0, models: 0, children: 0, pids: [] },
    rssLast: { server: 0, models: 0, children: 0, pids: [] },
    seen: new Map(),
    cpuMs: { server: 0, models: 0 },
  };
}

// ---- report ----

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

function percentiles(t: Target) {
  const sorted = [...t.latencies].sort((a, b) => a - b);
  return {
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

const ms = (v: number) => (Number.isNaN(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
const mib = (v: number) => (v > 0 ? (v / MiB).toFixed(0) : '-');

async function main() {
  const rows = shuffled(weatherRows(), 42);
  const bodies = rows.map((features) => JSON.stringify({ features }));
  const perSlice = SECONDS / SLICES;
  console.log(
    `POST /v1/models/${MODEL}/predict, single instances from ${rows.length} Seattle weather rows, ` +
      `open-loop at ${RATE} requests/s, ${SECONDS} s per target (${SLICES} rotating slices of ${perSlice} s, ` +
      `after ${WARMUP_SECONDS} s of warm-up); latency from each request's scheduled send time; ` +
      `server.maxInFlight ${MAX_IN_FLIGHT ?? '16 (default)'}`,
  );

  const servers: Server[] = [];
  try {
    servers.push(await startServer('logging on', true));
    servers.push(await startServer('logging off', false));
    const [on, off] = servers as [Server, Server];
    const targets = [
      httpTarget('HTTP, logging on', on, bodies),
      httpTarget('HTTP, logging off', off, bodies),
      await directTarget(rows),
    ];
    const rssIdle = servers.map((s) => sampleRss(s.child.pid ?? 0));

    let offset = 0;
    for (const t of targets) {
      await drive(t, WARMUP_SECONDS, offset, false);
      offset += WARMUP_SECONDS * RATE;
    }
    for (const s of servers) await loopLag(s); // from here on
    for (let slice = 0; slice < SLICES; slice++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(slice + k) % targets.length] as Target;
        await drive(t, perSlice, offset, true);
        offset += Math.round(perSlice * RATE);
      }
    }

    const lags = await Promise.all(servers.map(loopLag));
    // Logging on means every answered prediction reached monitoring; off, none did.
    await new Promise((r) => setTimeout(r, 500));
    const logged = await Promise.all(
      servers.map(async (s) => {
        const r = await getJson(s, `/v1/models/${MODEL}`);
        return r.status === 200 ? ((r.json as { record_count?: number }).record_count ?? 0) : 0;
      }),
    );

    const header = ['target', 'answered', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'RSS MiB'];
    const table = targets.map((t) => {
      const p = percentiles(t);
      const errors = [...t.errors.values()].reduce((a, b) => a + b, 0);
      const rss = t.server
        ? `${mib(t.rssPeak.server)} + ${mib(t.rssPeak.models)} (${t.rssPeak.children} model proc.)`
        : '(in this process)';
      return [
        t.label,
        String(t.latencies.length),
        String(errors),
        ms(p.p50),
        ms(p.p95),
        ms(p.p99),
        ms(p.max),
        rss,
      ];
    });
    const widths = header.map((h, c) => Math.max(h.length, ...table.map((r) => (r[c] as string).length)));
    const fmt = (r: string[]) =>
      r
        .map((v, c) => (c === 0 || c === 7 ? v.padEnd(widths[c] as number) : v.padStart(widths[c] as number)))
        .join('  ');
    console.log(fmt(header));
    for (const r of table) console.log(fmt(r));

    const [pOn, pOff, pDirect] = targets.map(percentiles) as [
      ReturnType<typeof percentiles>,
      ReturnType<typeof percentiles>,
      ReturnType<typeof percentiles>,
    ];
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(
      `logging overhead, on/off:   p50 ${ratio(pOn.p50, pOff.p50)}  p95 ${ratio(pOn.p95, pOff.p95)}  p99 ${ratio(pOn.p99, pOff.p99)}` +
        `  (target ≤ 1.10)`,
    );
    console.log(
      `endpoint overhead, HTTP/direct (logging off): p50 ${ratio(pOff.p50, pDirect.p50)}  p95 ${ratio(pOff.p95, pDirect.p95)}` +
        `  p99 ${ratio(pOff.p99, pDirect.p99)}; logging on: p50 ${ratio(pOn.p50, pDirect.p50)}  p99 ${ratio(pOn.p99, pDirect.p99)}`,
    );
    console.log(
      `server RSS (server + model processes, VmRSS): ${servers
        .map(
          (s, i) =>
            `${s.label} idle ${mib(rssIdle[i]?.server ?? 0)} + ${mib(rssIdle[i]?.models ?? 0)} MiB, ` +
            `under load peak ${mib(targets[i]?.rssPeak.server ?? 0)} + ${mib(targets[i]?.rssPeak.models ?? 0)}, ` +
            `at the end ${mib(targets[i]?.rssLast.server ?? 0)} + ${mib(targets[i]?.rssLast.models ?? 0)} MiB`,
        )
        .join('; ')}`,
    );
    console.log(
      `records logged into monitoring: logging on ${logged[0]?.toLocaleString()}, logging off ${logged[1]?.toLocaleString()} ` +
        `(predictions answered by the logging server, warm-up and readiness probe included: ` +
        `${(targets[0] as Target).latencies.length + (targets[0] as Target).warmupOk + 1})`,
    );
    console.log(
      `server event-loop delay over the measured slices (prom-client, 10 ms resolution): ${servers
        .map(
          (s, i) =>
            `${s.label} p99 ${ms(lags[i]?.p99 ?? Number.NaN)} ms, max ${ms(lags[i]?.max ?? Number.NaN)} ms`,
        )
        .join('; ')}`,
    );
    const [cpuOn, cpuOff] = targets.map((t) => (t.cpuMs.server + t.cpuMs.models) / Math.max(1, t.sent)) as [
      number,
      number,
    ];
    console.log(
      `CPU per request sent (server + model processes, /proc utime+stime, 10 ms ticks): ${targets
        .slice(0, 2)
        .map(
          (t) =>
            `${t.label} ${((t.cpuMs.server + t.cpuMs.models) / Math.max(1, t.sent)).toFixed(3)} ms ` +
            `(${(t.cpuMs.server / Math.max(1, t.sent)).toFixed(3)} + ${(t.cpuMs.models / Math.max(1, t.sent)).toFixed(3)})`,
        )
        .join(', ')}; on/off ${(cpuOn / cpuOff).toFixed(2)}`,
    );
    console.log(
      `sender fell behind schedule by at most: ${targets.map((t) => `${t.label} ${ms(t.lateMs)} ms`).join(', ')}`,
    );
    const errorsOf = (t: Target) => [...t.errors.values()].reduce((a, b) => a + b, 0);
    const [tOn, tOff] = targets as [Target, Target, Target];
    const onOff = pOn.p95 / pOff.p95;
    writeResult(
      'predict',
      `POST /v1/models/${MODEL}/predict from outside (the real server, keep-alive HTTP), open loop at ${RATE} ` +
        `requests/s, ${SECONDS} s per target in ${SLICES} rotating slices; errors (non-200) logging on ` +
        `${errorsOf(tOn)}, off ${errorsOf(tOff)} of ${tOn.sent} and ${tOff.sent} sent`,
      [
        {
          id: 'predict.p95.on',
          figure: `predict p95 at ${RATE} requests/s, self-logging on`,
          value: pOn.p95,
          unit: 'ms',
          baseline: { label: 'the same, self-logging off', value: pOff.p95, unit: 'ms' },
          ratio: onOff,
          target: '≤ 5 ms, on/off ≤ 1.10, no errors',
          met: pOn.p95 <= 5 && onOff <= 1.1 && errorsOf(tOn) === 0,
        },
        {
          id: 'predict.p99.on',
          figure: `predict p99 at ${RATE} requests/s, self-logging on`,
          value: pOn.p99,
          unit: 'ms',
          baseline: { label: 'the same, self-logging off', value: pOff.p99, unit: 'ms' },
          ratio: pOn.p99 / pOff.p99,
          target: null,
          met: null,
        },
        {
          id: 'predict.cpu.on',
          figure: 'server CPU per predict request (server + model processes), self-logging on',
          value: cpuOn,
          unit: 'ms',
          baseline: { label: 'the same, self-logging off', value: cpuOff, unit: 'ms' },
          ratio: cpuOn / cpuOff,
          target: null,
          met: null,
        },
        {
          id: 'predict.p95.off',
          figure: `predict p95 at ${RATE} requests/s, self-logging off`,
          value: pOff.p95,
          unit: 'ms',
          baseline: {
            label: 'the model called in-process (onnxruntime-node)',
            value: pDirect.p95,
            unit: 'ms',
          },
          ratio: pOff.p95 / pDirect.p95,
          target: null,
          met: null,
        },
      ],
    );
    for (const t of targets) {
      if (t.seen.size > 1)
        console.log(
          `${t.label}: ${t.seen.size} model processes seen under load: ${[...t.seen].map(([pid, cmd]) => `${pid} ${cmd}`).join(', ')}`,
        );
      if (t.errors.size > 0)
        console.log(`${t.label} errors: ${[...t.errors].map(([k, n]) => `${k} × ${n}`).join(', ')}`);
    }
  } finally {
    for (const s of servers) await stopServer(s);
  }
}

await main();
