// Ingest throughput of a driftwatch fleet on PostgreSQL (1, 2 and 4 real `driftwatch serve` processes on
// one database), against one SQLite process under the same load and against the floor set by PostgreSQL
// itself: the same NDJSON lines parsed with JSON.parse and inserted with plain `pg` multi-row INSERTs into an
// unpartitioned table shaped like `records` (same columns, the unique (model, request_id) index and the
// (model, ts) and received_at indexes), one transaction per batch. Every driftwatch configuration has a
// 20-feature baseline active, so aggregation runs at ingest; each gets a fresh database (the processes
// migrate it themselves) or SQLite file.
//
// Load: two clients per process (server.maxIngestInFlight defaults to 2) sending NDJSON batches
// round-robin (batch b to process b mod P); a 503 (overload) would be retried after 20 ms and counted. The raw
// floor runs with as many connections as the largest fleet has clients, and with as many as one process has
// (CLIENTS_PER_PROCESS): the baseline of one process on the same cluster (same durability), run before SQLite
// and after PostgreSQL with one process and averaged.
//
// Then a drift run over a window of DRIFT_RECORDS records (ingested first, untimed) on PostgreSQL and on
// SQLite: POST /v1/models/m/drift/run with from/to covering them, 3 times each, median reported.
//
// The PostgreSQL cluster is the throwaway one of test/pg/cluster.ts (fsync=off, synchronous_commit=off,
// printed below) unless DW_BENCH_PG_URL names a server; SQLite runs at its default synchronous=FULL.
//
//   npx tsx bench/fleet.ts [--quick]
//   BENCH_BATCH (2000) records per request, BENCH_BATCHES (100) requests per configuration,
//   BENCH_DRIFT_RECORDS (1,000,000); --quick: 25 batches and 100,000 drift records.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Cluster, startCluster } from '../test/pg/cluster.js';
import { killAll, type ServerProcess, startServerProcess } from '../test/server/process.js';
import {
  type Figure,
  featureRow,
  type Requester,
  removeDatabase,
  rng,
  seedBaseline,
  timeAsync,
  writeResult,
} from './common.js';

const QUICK = process.argv.includes('--quick');
const BATCH = Number(process.env.BENCH_BATCH ?? 2000);
const BATCHES = Number(process.env.BENCH_BATCHES ?? (QUICK ? 25 : 100));
const TOTAL = BATCH * BATCHES;
const DRIFT_RECORDS = Number(process.env.BENCH_DRIFT_RECORDS ?? (QUICK ? 100_000 : 1_000_000));
const FLEETS = [1, 2, 4];
const CLIENTS_PER_PROCESS = 2;
const DRIFT_REPEATS = 3;
const HOUR = 3600e3;

// Jobs stay out of the measurement: the drift tick runs once a year, retention never finds anything.
const SERVER_ENV = { DRIFTWATCH_DRIFT_SCHEDULE: '0 0 1 1 *', DRIFTWATCH_LOG_LEVEL: 'info' };

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

const requester = (s: ServerProcess): Requester => ({
  request: (path, init) => fetch(s.url(path), init),
});

/** NDJSON request bodies, built once and sent unchanged to every configuration and to the raw inserts. */
function makeBodies(prefix: string, batches: number, t0: number, spacingMs: number, seed: number): string[] {
  const r = rng(seed);
  const bodies: string[] = [];
  let id = 0;
  for (let b = 0; b < batches; b++) {
    let text = '';
    for (let i = 0; i < BATCH; i++) {
      id++;
      text += `${JSON.stringify({
        model: 'm',
        model_version: 'v1',
        request_id: `${prefix}-${id}`,
        timestamp: t0 + id * spacingMs,
        features: featureRow(r, 0.2),
        prediction: r(),
      })}\n`;
    }
    bodies.push(text);
  }
  return bodies;
}

const trainingRows = (() => {
  const r = rng(11);
  return Array.from({ length: 20_000 }, () => JSON.stringify(featureRow(r))).join('\n');
})();

/** Sends every body through `targets` (CLIENTS_PER_PROCESS clients each); resolves with the wall time. */
async function drive(targets: ServerProcess[], bodies: string[]): Promise<{ ms: number; retries: number }> {
  let retries = 0;
  const clients = targets.length * CLIENTS_PER_PROCESS;
  const { ms } = await timeAsync(() =>
    Promise.all(
      Array.from({ length: clients }, async (_, k) => {
        // Round-robin: batch b goes to process b mod P; client k sends batches k, k + C, k + 2C, … (C
        // clients, a multiple of P), so each process has exactly CLIENTS_PER_PROCESS requests in flight.
        for (let b = k; b < bodies.length; b += clients) {
          const target = targets[b % targets.length] as ServerProcess;
          for (;;) {
            const res = await fetch(target.url('/v1/ingest'), {
              method: 'POST',
              headers: { 'content-type': 'application/x-ndjson' },
              body: bodies[b] as string,
            });
            const text = await res.text();
            if (res.status === 503) {
              retries++;
              await sleep(20);
              continue;
            }
            const accepted = res.status === 200 ? (JSON.parse(text) as { accepted: number }).accepted : -1;
            if (accepted !== BATCH)
              throw new Error(`client ${k}: ingest answered ${res.status} ${text.slice(0, 300)}`);
            break;
          }
        }
      }),
    ),
  );
  return { ms, retries };
}

async function recordCount(s: ServerProcess): Promise<number> {
  const res = await fetch(s.url('/v1/models/m'));
  return ((await res.json()) as { record_count: number }).record_count;
}

class Databases {
  private admin: pg.Client | undefined;
  private n = 0;
  constructor(private readonly cluster: Cluster) {}

  private async client(): Promise<pg.Client> {
    if (!this.admin) {
      this.admin = new pg.Client({ connectionString: this.cluster.url });
      await this.admin.connect();
    }
    return this.admin;
  }

  /** A new empty database; its URL. */
  async create(label: string): Promise<{ url: string; name: string }> {
    const name = `dw_bench_${process.pid}_${++this.n}_${label}`;
    const c = await this.client();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
    return { url: this.cluster.urlFor(name), name };
  }

  async drop(name: string): Promise<void> {
    await (await this.client()).query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  async settings(): Promise<string> {
    const c = await this.client();
    const setting = async (name: string) =>
      (await c.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]?.v;
    const v = await setting('server_version');
    const f = await setting('fsync');
    const s = await setting('synchronous_commit');
    return `PostgreSQL ${v}, fsync=${f}, synchronous_commit=${s}`;
  }

  async end(): Promise<void> {
    await this.admin?.end();
  }
}

/** Starts `count` processes on `db` at once, uploads the baseline through the first. */
async function startFleet(db: string, count: number): Promise<ServerProcess[]> {
  const fleet = await Promise.all(Array.from({ length: count }, () => startServerProcess(db, SERVER_ENV)));
  await seedBaseline(requester(fleet[0] as ServerProcess), 'm', 'v1', trainingRows);
  return fleet;
}

interface Row {
  label: string;
  ms: number;
  retries: number | null;
}

// The raw table: columns as drizzle/pg/0000_foundation.sql's records (without the receipt-day partitioning),
// written out by hand so the floor depends on nothing in src.
const RAW_SCHEMA = `
  CREATE TABLE raw_records (
    id bigserial PRIMARY KEY,
    model text NOT NULL,
    model_version text NOT NULL DEFAULT '',
    request_id text NOT NULL,
    ts bigint NOT NULL,
    received_at bigint NOT NULL,
    features text NOT NULL,
    prediction text,
    label text,
    latency_ms double precision,
    status text,
    error text,
    tags text
  );
  CREATE UNIQUE INDEX raw_records_model_request_id ON raw_records (model, request_id);
  CREATE INDEX raw_records_model_ts ON raw_records (model, ts);
  CREATE INDEX raw_records_received_at ON raw_records (received_at);`;
const COLUMNS = [
  'model',
  'model_version',
  'request_id',
  'ts',
  'received_at',
  'features',
  'prediction',
  'label',
  'latency_ms',
  'status',
  'error',
  'tags',
];
const ROWS_PER_STATEMENT = 500;

interface WireRecord {
  model: string;
  model_version?: string;
  request_id: string;
  timestamp?: number;
  features: unknown;
  prediction?: unknown;
  label?: unknown;
  latency_ms?: number;
  status?: string;
  error?: string;
  tags?: unknown;
}
const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

async function rawPg(url: string, bodies: string[], connections: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  pool.on('error', () => undefined); // an idle connection dropped by the server is simply replaced
  try {
    return await rawInserts(pool, bodies, connections);
  } finally {
    await pool.end();
  }
}

async function rawInserts(pool: pg.Pool, bodies: string[], connections: number): Promise<number> {
  await pool.query(RAW_SCHEMA);
  const statement = (rows: number) => {
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++)
      tuples.push(`(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(',')})`);
    return `INSERT INTO raw_records (${COLUMNS.join(',')}) VALUES ${tuples.join(',')}`;
  };
  const full = statement(ROWS_PER_STATEMENT);
  let next = 0;
  const { ms } = await timeAsync(() =>
    Promise.all(
      Array.from({ length: connections }, async () => {
        for (;;) {
          const b = next++;
          if (b >= bodies.length) return;
          const receivedAt = Date.now();
          const list = (bodies[b] as string)
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as WireRecord);
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            for (let start = 0; start < list.length; start += ROWS_PER_STATEMENT) {
              const chunk = list.slice(start, start + ROWS_PER_STATEMENT);
              const params: unknown[] = [];
              for (const r of chunk)
                params.push(
                  r.model,
                  r.model_version ?? '',
                  r.request_id,
                  r.timestamp ?? receivedAt,
                  receivedAt,
                  JSON.stringify(r.features),
                  json(r.prediction),
                  json(r.label),
                  r.latency_ms ?? null,
                  r.status ?? null,
                  r.error ?? null,
                  json(r.tags),
                );
              await client.query(
                chunk.length === ROWS_PER_STATEMENT
                  ? { name: 'raw-insert-full', text: full, values: params }
                  : { text: statement(chunk.length), values: params },
              );
            }
            await client.query('COMMIT');
          } finally {
            client.release();
          }
        }
      }),
    ),
  );
  const stored = Number(
    (await pool.query<{ n: string }>('SELECT count(*) AS n FROM raw_records')).rows[0]?.n,
  );
  if (stored !== TOTAL) throw new Error(`raw inserts stored ${stored} of ${TOTAL} records`);
  return ms;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function driftRuns(s: ServerProcess, from: number, to: number): Promise<{ ms: number[]; n: number }> {
  const ms: number[] = [];
  let n = 0;
  for (let i = 0; i < DRIFT_REPEATS; i++) {
    const { ms: t, value } = await timeAsync(async () => {
      const res = await fetch(s.url('/v1/models/m/drift/run'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from: new Date(from).toISOString(), to: new Date(to).toISOString() }),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`drift run answered ${res.status} ${text.slice(0, 300)}`);
      return JSON.parse(text) as { results: { n: number }[] };
    });
    ms.push(t);
    n = value.results.reduce((a, r) => a + r.n, 0);
  }
  return { ms, n };
}

const started = Date.now();
const cluster = await startCluster();
const dbs = new Databases(cluster);
const sqlitePath = (label: string) => join(tmpdir(), `driftwatch-bench-fleet-${process.pid}-${label}.db`);
try {
  const now = Date.now();
  const bodies = makeBodies('r', BATCHES, now - 3 * 86400e3, 1000, 7);
  const mb = bodies.reduce((a, b) => a + b.length, 0) / 1e6;
  console.log(
    `${BATCHES} NDJSON batches × ${BATCH} records (${mb.toFixed(0)} MB), 20 features, baseline active; ` +
      `${CLIENTS_PER_PROCESS} clients per process; ${await dbs.settings()}; SQLite synchronous=full`,
  );

  const rows: Row[] = [];
  const rawRun = async (connections: number): Promise<number> => {
    const { url, name } = await dbs.create(`raw${connections}`);
    const ms = await rawPg(url, bodies, connections);
    await dbs.drop(name);
    return ms;
  };
  const maxConnections = Math.max(...FLEETS) * CLIENTS_PER_PROCESS;
  rows.push({
    label: `raw pg INSERT (${maxConnections} conns)`,
    ms: await rawRun(maxConnections),
    retries: null,
  });
  // One process's floor is run before SQLite and again after PostgreSQL with one process, and the two
  // averaged: the configurations run minutes apart, and load from elsewhere drifts in between.
  const rawOneMs = [await rawRun(CLIENTS_PER_PROCESS)];
  {
    const path = sqlitePath('ingest');
    removeDatabase(path);
    const fleet = await startFleet(path, 1);
    const { ms, retries } = await drive(fleet, bodies);
    if ((await recordCount(fleet[0] as ServerProcess)) !== TOTAL) throw new Error('SQLite lost records');
    rows.push({ label: 'SQLite, 1 process', ms, retries });
    await killAll();
    removeDatabase(path);
  }
  for (const count of FLEETS) {
    const { url, name } = await dbs.create(`p${count}`);
    const fleet = await startFleet(url, count);
    const { ms, retries } = await drive(fleet, bodies);
    const stored = await recordCount(fleet[count - 1] as ServerProcess);
    if (stored !== TOTAL) throw new Error(`PostgreSQL with ${count} processes counted ${stored} of ${TOTAL}`);
    rows.push({ label: `PostgreSQL, ${count} process${count > 1 ? 'es' : ''}`, ms, retries });
    await killAll();
    await dbs.drop(name);
    if (count === 1) rawOneMs.push(await rawRun(CLIENTS_PER_PROCESS));
  }

  const rate = (r: Row) => TOTAL / (r.ms / 1000);
  const raw = rate(rows[0] as Row);
  const sqlite = rate(rows[1] as Row);
  const rawOne: Row = {
    label: `raw pg INSERT (${CLIENTS_PER_PROCESS} conns)`,
    ms: rawOneMs.reduce((a, v) => a + v, 0) / rawOneMs.length,
    retries: null,
  };
  rows.splice(1, 0, rawOne);
  console.log(
    `\nraw pg with ${CLIENTS_PER_PROCESS} conns: ${rawOneMs.map((ms) => Math.round(TOTAL / (ms / 1000)).toLocaleString()).join(' and ')} records/s (averaged)`,
  );
  console.log('');
  console.log(
    `${'configuration'.padEnd(28)} ${'records/s'.padStart(10)} ${'vs raw pg'.padStart(10)} ${'vs SQLite'.padStart(10)} ${'503 retries'.padStart(12)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(28)} ${Math.round(rate(r)).toLocaleString().padStart(10)} ${(rate(r) / raw).toFixed(3).padStart(10)} ` +
        `${(rate(r) / sqlite).toFixed(3).padStart(10)} ${(r.retries === null ? '-' : String(r.retries)).padStart(12)}`,
    );
  }

  const rawFloor = {
    label: `raw pg multi-row INSERTs, ${(rows[0] as Row).label.replace(/.*\((.*)\)/, '$1')}, fsync off`,
    value: raw,
    unit: 'records/s',
  };
  const pgOne = rows.find((r) => r.label === 'PostgreSQL, 1 process') as Row;
  const sameFloor = {
    label: `raw pg multi-row INSERTs, ${CLIENTS_PER_PROCESS} conns (one process's), same cluster and durability`,
    value: rate(rawOne),
    unit: 'records/s',
  };
  console.log(
    `PostgreSQL, 1 process: ${(rate(pgOne) / rate(rawOne)).toFixed(3)} of raw pg with ${CLIENTS_PER_PROCESS} conns, ` +
      `${(rate(pgOne) / sqlite).toFixed(3)} of SQLite, 1 process`,
  );
  const figures: Figure[] = rows.slice(2).map((r) => {
    const largest = r.label === `PostgreSQL, ${Math.max(...FLEETS)} processes`;
    return {
      id: largest ? 'fleet.pg.vs-raw' : `fleet.${r.label.replace(/\W+/g, '-').toLowerCase()}`,
      figure: `ingest throughput, ${r.label} (baseline active, from outside)`,
      value: rate(r),
      unit: 'records/s',
      baseline: rawFloor,
      ratio: rate(r) / raw,
      target: largest ? 'ratio ≥ 0.5' : null,
      met: largest ? rate(r) / raw >= 0.5 : null,
    };
  });

  figures.push(
    {
      id: 'fleet.pg.same-durability',
      figure:
        'ingest throughput, PostgreSQL, 1 process, over raw pg with the same connections and durability',
      value: rate(pgOne),
      unit: 'records/s',
      baseline: sameFloor,
      ratio: rate(pgOne) / rate(rawOne),
      target: 'ratio ≥ 0.9',
      met: rate(pgOne) / rate(rawOne) >= 0.9,
    },
    {
      id: 'fleet.pg.vs-sqlite',
      figure: 'ingest throughput, PostgreSQL, 1 process, over SQLite, 1 process',
      value: rate(pgOne),
      unit: 'records/s',
      baseline: { label: 'SQLite, 1 process (synchronous=full)', value: sqlite, unit: 'records/s' },
      ratio: rate(pgOne) / sqlite,
      target: 'ratio ≥ 1',
      met: rate(pgOne) / sqlite >= 1,
    },
  );

  // --- drift run over a large window.
  const DRIFT_BATCHES = Math.ceil(DRIFT_RECORDS / BATCH);
  const spacing = 1000;
  const t0 = now - 20 * 86400e3;
  const from = t0;
  const to = t0 + (DRIFT_BATCHES * BATCH + 1) * spacing + HOUR;
  console.log(
    `\ndrift run over ${(DRIFT_BATCHES * BATCH).toLocaleString()} records (${Math.ceil((to - from) / HOUR)} hourly buckets, 20 features + prediction), median of ${DRIFT_REPEATS}:`,
  );
  // Built a slice at a time: a million records of NDJSON are not held at once.
  const SLICE = 25;
  const feed = async (fleet: ServerProcess[]) => {
    for (let s = 0; s < DRIFT_BATCHES; s += SLICE) {
      const slice = makeBodies(
        `d${s}`,
        Math.min(SLICE, DRIFT_BATCHES - s),
        t0 + s * BATCH * spacing,
        spacing,
        100 + s,
      );
      await drive(fleet, slice);
    }
  };
  const results: { label: string; ms: number[]; n: number; ingestMs: number }[] = [];
  {
    const path = sqlitePath('drift');
    removeDatabase(path);
    const fleet = await startFleet(path, 1);
    const { ms: ingestMs } = await timeAsync(() => feed(fleet));
    results.push({ label: 'SQLite', ...(await driftRuns(fleet[0] as ServerProcess, from, to)), ingestMs });
    await killAll();
    removeDatabase(path);
  }
  {
    const { url, name } = await dbs.create('drift');
    // Four processes ingest (faster); one of them runs the drift runs.
    const fleet = await startFleet(url, 4);
    const { ms: ingestMs } = await timeAsync(() => feed(fleet));
    results.push({
      label: 'PostgreSQL',
      ...(await driftRuns(fleet[1] as ServerProcess, from, to)),
      ingestMs,
    });
    await killAll();
    await dbs.drop(name);
  }
  const sqliteMedian = median(results[0]?.ms ?? []);
  for (const r of results) {
    console.log(
      `${r.label.padEnd(12)} n=${r.n.toLocaleString()}  median ${median(r.ms).toFixed(0).padStart(6)} ms ` +
        `(runs ${r.ms.map((m) => m.toFixed(0)).join(', ')} ms)  ratio to SQLite ${(median(r.ms) / sqliteMedian).toFixed(2)}` +
        `  [untimed ingest took ${(r.ingestMs / 1000).toFixed(0)} s]`,
    );
  }
  for (const r of results) {
    figures.push({
      id: `fleet.drift.${r.label.toLowerCase()}`,
      figure: `drift run over ${r.n.toLocaleString('en-US')} records over HTTP, ${r.label}`,
      value: median(r.ms),
      unit: 'ms',
      baseline: { label: 'the same on SQLite', value: sqliteMedian, unit: 'ms' },
      ratio: median(r.ms) / sqliteMedian,
      target: null,
      met: null,
    });
  }
  writeResult(
    'fleet',
    `${BATCHES} NDJSON batches × ${BATCH} records, 20 features, baseline active, ${CLIENTS_PER_PROCESS} clients ` +
      `per server process; PostgreSQL is a throwaway cluster with fsync off (${await dbs.settings()})`,
    figures,
  );
  console.log(`\nbench/fleet.ts finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
} finally {
  await killAll();
  await dbs.end().catch(() => undefined);
  cluster.stop();
}
