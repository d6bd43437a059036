import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { type ConfigInput, defaultConfig, loadConfig } from '../src/config/index.js';
import type { AppDeps } from '../src/context.js';
import { startServer } from '../src/server.js';
import { mulberry32 } from '../src/stats/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';

// The one place where benches touch the app's internals. bench/ingest.ts and bench/overload.ts reach the
// service only through benchApp, seedBaseline and startBenchServer (and HTTP), so a change in how the app
// is wired (deps, storage, startup) is adapted here. bench/drift.ts still drives services on benchDeps().

/** Deterministic PRNG so every run measures the same data. */
export const rng = mulberry32;

export function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

export const FEATURES = 20;

/** One synthetic feature row: 16 numeric (normal, skewed, integer-tied) and 4 categorical columns. */
export function featureRow(r: () => number, shift = 0): Record<string, number | string> {
  const row: Record<string, number | string> = {};
  for (let f = 0; f < 16; f++) {
    const z = normal(r) + shift;
    row[`f${f}`] = f % 4 === 0 ? Math.round(Math.exp(z) * 3) : f % 4 === 1 ? Math.exp(z) : z * (f + 1);
  }
  for (let f = 16; f < FEATURES; f++) row[`f${f}`] = `c${Math.floor(r() ** 2 * 12)}`;
  return row;
}

/** Service dependencies on a SQLite file with a silent logger (bench/drift.ts calls services directly). */
export function benchDeps(path: string, config: ConfigInput = {}): AppDeps {
  const cfg = defaultConfig({ ...config, database: { path, ...config.database } });
  return {
    config: cfg,
    store: openSqliteStore(cfg.database.path, { synchronous: cfg.database.synchronous }),
    log: pino({ level: 'silent' }),
    clock: Date.now,
  };
}

/** Anything that answers HTTP requests by path: the in-process app, or a running server over its socket. */
export interface Requester {
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** The HTTP app without a socket: requests go through routing, validation and storage in-process. */
export interface BenchApp extends Requester {
  /** Closes the database; the file stays (see removeDatabase). */
  close(): Promise<void>;
}

export async function benchApp(path: string, config: ConfigInput = {}): Promise<BenchApp> {
  const deps = benchDeps(path, config);
  const app = createApp(deps);
  return {
    request: async (url, init) => app.request(url, init),
    close: () => deps.store.close(),
  };
}

/** Stores (and activates) a training baseline from NDJSON rows through the public API. */
export async function seedBaseline(
  app: Requester,
  model: string,
  modelVersion: string,
  ndjsonRows: string,
): Promise<void> {
  const query = new URLSearchParams({ model_version: modelVersion });
  const res = await app.request(`/v1/models/${encodeURIComponent(model)}/baselines?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: ndjsonRows,
  });
  if (res.status !== 201) throw new Error(`baseline upload failed: ${res.status} ${await res.text()}`);
}

export interface BenchServer extends Requester {
  port: number;
  /** server.healthPort's listener, when the overrides set one. */
  healthPort?: number;
  /** Graceful shutdown: stops the listener and jobs, closes the database. */
  close(): Promise<void>;
}

/**
 * The real server (listener, jobs, graceful shutdown) on 127.0.0.1 and a free port, in this process.
 * The config is loadConfig()'s, so DRIFTWATCH_* variables and DRIFTWATCH_CONFIG apply, except that the
 * database path, host and port given here win; the log level is `error` unless DRIFTWATCH_LOG_LEVEL is set.
 */
export async function startBenchServer(
  path: string,
  overrides: Record<string, unknown> = {},
): Promise<BenchServer> {
  const config = loadConfig({
    overrides: {
      'log.level': process.env.DRIFTWATCH_LOG_LEVEL ? undefined : 'error',
      ...overrides,
      'database.path': path,
      'server.host': '127.0.0.1',
      'server.port': 0,
    },
  });
  const server = await startServer(config);
  return {
    port: server.port,
    ...(server.healthPort === undefined ? {} : { healthPort: server.healthPort }),
    request: (url, init) => fetch(`http://127.0.0.1:${server.port}${url}`, init),
    close: () => server.shutdown('bench finished'),
  };
}

/** The repository: spawned servers run from here. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A driftwatch server in a process of its own, so its memory (/proc/<pid>/status) is its own. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stderr(): string;
}

/**
 * Spawns `node <nodeArgs> <entry> --port <free port> --db <db>` (entry: e.g. `src/main.ts serve` under tsx, or
 * `scripts/start.mjs` as `npm start` runs it) with DRIFTWATCH_* variables of this process left out and
 * `env` added, and resolves once GET /readyz answers 200.
 */
export async function spawnServer(opts: {
  db: string;
  entry: string[];
  nodeArgs?: string[];
  env?: Record<string, string>;
  startTimeoutMs?: number;
}): Promise<ServerProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIFTWATCH_')) env[k] = v;
  env.DRIFTWATCH_LOG_LEVEL = 'error';
  Object.assign(env, opts.env);
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), ...opts.entry, '--port', String(port), '--db', opts.db],
    { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
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
export function processMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/**
 * POSTs `body` until the server takes it: a 503 (the in-flight bound) or a connection reset (a refused body
 * is not read, and the connection closed) is tried again after `retryMs`. Returns the answer's status and text.
 */
export async function postUntilTaken(
  url: string,
  body: string,
  type: string,
  retryMs = 50,
): Promise<{ status: number; text: string }> {
  for (;;) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body }).catch(
      (err: Error & { cause?: { code?: string } }) => {
        if (err.cause?.code === 'ECONNRESET' || err.cause?.code === 'EPIPE') return null;
        throw err;
      },
    );
    const text = res ? await res.text() : '';
    if (res === null || res.status === 503) {
      await new Promise((done) => setTimeout(done, retryMs));
      continue;
    }
    return { status: res.status, text };
  }
}

/** Deletes a SQLite file with its WAL and shared-memory files. */
export function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

export function time<T>(fn: () => T): { ms: number; value: T } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

export async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

// ---- results: bench/results/<name>.json, rendered into BENCHMARKS.md by bench/run.ts ----

/** One measured figure with the baseline it is compared to, measured in the same run. */
export interface Figure {
  /** Stable key (bench/run.ts matches the targets on it). */
  id: string;
  figure: string;
  value: number;
  unit: string;
  /** The in-run baseline the value is compared to, and what it is. */
  baseline: { label: string; value: number; unit: string } | null;
  /** value / baseline (or whatever the figure's text says), null without a baseline. */
  ratio: number | null;
  /** The target in words (e.g. "≤ 5 ms"), null when the figure has none. */
  target: string | null;
  /** Whether the target was met in this run; null without a target. */
  met: boolean | null;
}

export interface BenchResult {
  bench: string;
  quick: boolean;
  startedAt: string;
  finishedAt: string;
  /** os.loadavg() at the start and at the end of the bench (1, 5, 15 minutes). */
  loadAverage: { start: number[]; end: number[] };
  /** What was measured and how, in a sentence or two. */
  setup: string;
  figures: Figure[];
}

const benchStarted = { at: new Date().toISOString(), load: loadavg() };

/** Writes bench/results/<bench>.json; bench/run.ts collects them into BENCHMARKS.md. */
export function writeResult(bench: string, setup: string, figures: Figure[]): void {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const result: BenchResult = {
    bench,
    quick: process.argv.includes('--quick'),
    startedAt: benchStarted.at,
    finishedAt: new Date().toISOString(),
    loadAverage: { start: benchStarted.load.map(round2), end: loadavg().map(round2) },
    setup,
    figures: figures.map((f) => ({
      ...f,
      value: round3(f.value),
      ratio: f.ratio === null ? null : round3(f.ratio),
      baseline: f.baseline && { ...f.baseline, value: round3(f.baseline.value) },
    })),
  };
  writeFileSync(join(dir, `${bench}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

const round2 = (v: number) => Math.round(v * 100) / 100;
const round3 = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000);
