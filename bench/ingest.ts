// Ingest throughput through the HTTP app (body read, parse, validate, store, aggregate), against the floor
// set by SQLite itself: the same JSON texts parsed with JSON.parse and inserted by plain better-sqlite3
// prepared multi-row INSERTs into a table shaped like `records` (same columns, same 3 indexes), WAL and
// synchronous=FULL, one transaction per batch. The app is measured with aggregation off (model without a
// baseline) and on (20-feature baseline), each on its own temp database, in this process (no socket); and
// from outside: a `driftwatch serve` process (from source, as `npm run dev` runs it) with the baseline
// active, sent the same bodies over HTTP.
//
// The four are interleaved batch by batch (raw, off, on, outside, in an order that rotates each batch) so that
// load from other processes falls on all of them alike. Prints records/s for each, the ratios app/raw and
// on/off over the whole run, and the median of the per-batch ratios; nothing passes or fails on time.
//
//   npx tsx bench/ingest.ts        BENCH_BATCH records per request (5000), BENCH_BATCHES requests (40)
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { startServerProcess } from '../test/server/process.js';
import {
  type BenchApp,
  benchApp,
  featureRow,
  removeDatabase,
  rng,
  seedBaseline,
  writeResult,
} from './common.js';

const BATCH = Number(process.env.BENCH_BATCH ?? 5000);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 40);
const TOTAL = BATCH * BATCHES;

const dbPath = (label: string) => join(tmpdir(), `driftwatch-bench-ingest-${process.pid}-${label}.db`);

/** The request bodies, built once and sent unchanged to the app and to the raw inserts. */
function makeBodies(): string[] {
  const r = rng(7);
  const t0 = Date.parse('2026-11-24T00:00:00Z');
  const bodies: string[] = [];
  let id = 0;
  for (let b = 0; b < BATCHES; b++) {
    const records = Array.from({ length: BATCH }, () => {
      id++;
      return {
        model: 'm',
        model_version: 'v1',
        request_id: `r-${id}`,
        timestamp: new Date(t0 + id * 1000).toISOString(),
        features: featureRow(r, 0.2),
        prediction: r(),
      };
    });
    bodies.push(JSON.stringify({ records }));
  }
  return bodies;
}

/** One way of storing a batch: `store` is what is timed. */
interface Sink {
  label: string;
  path: string;
  store(body: string): void | Promise<void>;
  close(): Promise<void>;
}

async function appSink(label: string, withBaseline: boolean): Promise<Sink> {
  const path = dbPath(label.replace(/\W+/g, '-'));
  removeDatabase(path);
  const app: BenchApp = await benchApp(path);
  if (withBaseline) {
    const r = rng(11);
    const rows = Array.from({ length: 20_000 }, () => JSON.stringify(featureRow(r))).join('\n');
    await seedBaseline(app, 'm', 'v1', rows);
  }
  return {
    label,
    path,
    store: async (body) => {
      const res = await app.request('/v1/ingest', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      if (res.status !== 200) throw new Error(`${label}: ingest failed: ${res.status} ${await res.text()}`);
      const result = (await res.json()) as { accepted: number };
      if (result.accepted !== BATCH)
        throw new Error(`${label}: accepted ${result.accepted} of ${BATCH} records`);
    },
    close: () => app.close(),
  };
}

async function outsideSink(label: string): Promise<Sink> {
  const path = dbPath(label.replace(/\W+/g, '-'));
  removeDatabase(path);
  // No scheduled drift run during the bench; info is the level startServerProcess reads the port from.
  const server = await startServerProcess(path, { DRIFTWATCH_DRIFT_SCHEDULE: '0 0 1 1 *' });
  const r = rng(11);
  const rows = Array.from({ length: 20_000 }, () => JSON.stringify(featureRow(r))).join('\n');
  await seedBaseline({ request: (p, init) => fetch(server.url(p), init) }, 'm', 'v1', rows);
  return {
    label,
    path,
    store: async (body) => {
      const res = await fetch(server.url('/v1/ingest'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      if (res.status !== 200) throw new Error(`${label}: ingest failed: ${res.status} ${await res.text()}`);
      const result = (await res.json()) as { accepted: number };
      if (result.accepted !== BATCH)
        throw new Error(`${label}: accepted ${result.accepted} of ${BATCH} records`);
    },
    close: async () => {
      server.child.kill('SIGTERM');
      await server.exited;
    },
  };
}

// The `records` table as in src/store/sqlite/schema/records.ts / drizzle/sqlite/0000_foundation.sql, written out by hand so
// the raw inserts depend on nothing in src. describeRecordsTable() checks it against the app's own file.
const RAW_SCHEMA = `
  CREATE TABLE records (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    model TEXT NOT NULL,
    model_version TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    features TEXT NOT NULL,
    prediction TEXT,
    label TEXT,
    latency_ms REAL,
    status TEXT,
    error TEXT,
    tags TEXT
  );
  CREATE UNIQUE INDEX records_model_request_id ON records (model, request_id);
  CREATE INDEX records_model_ts ON records (model, ts);
  CREATE INDEX records_received_at ON records (received_at);`;
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
const ROWS_PER_STATEMENT = 500; // 500 × 12 = 6000 bound variables, as the app chunks

interface WireRecord {
  model: string;
  model_version?: string;
  request_id: string;
  timestamp?: string | number;
  features: unknown;
  prediction?: unknown;
  label?: unknown;
  latency_ms?: number;
  status?: string;
  error?: string;
  tags?: unknown;
}

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

function rawSink(): Sink {
  const path = dbPath('raw');
  removeDatabase(path);
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(RAW_SCHEMA);
  const statements = new Map<number, BetterSqlite3.Statement>();
  const insert = (rows: number) => {
    let stmt = statements.get(rows);
    if (!stmt) {
      const tuple = `(${COLUMNS.map(() => '?').join(',')})`;
      stmt = db.prepare(
        `INSERT INTO records (${COLUMNS.join(',')}) VALUES ${Array(rows).fill(tuple).join(',')}`,
      );
      statements.set(rows, stmt);
    }
    return stmt;
  };
  const insertBatch = db.transaction((list: WireRecord[], receivedAt: number) => {
    for (let start = 0; start < list.length; start += ROWS_PER_STATEMENT) {
      const chunk = list.slice(start, start + ROWS_PER_STATEMENT);
      const params: unknown[] = new Array(chunk.length * COLUMNS.length);
      let k = 0;
      for (const r of chunk) {
        params[k++] = r.model;
        params[k++] = r.model_version ?? '';
        params[k++] = r.request_id;
        params[k++] = typeof r.timestamp === 'string' ? Date.parse(r.timestamp) : (r.timestamp ?? receivedAt);
        params[k++] = receivedAt;
        params[k++] = JSON.stringify(r.features);
        params[k++] = json(r.prediction);
        params[k++] = json(r.label);
        params[k++] = r.latency_ms ?? null;
        params[k++] = r.status ?? null;
        params[k++] = r.error ?? null;
        params[k++] = json(r.tags);
      }
      insert(chunk.length).run(params);
    }
  });
  return {
    label: 'raw better-sqlite3',
    path,
    store: (body) => insertBatch((JSON.parse(body) as { records: WireRecord[] }).records, Date.now()),
    close: async () => {
      const stored = (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
      db.close();
      if (stored !== TOTAL) throw new Error(`raw inserts stored ${stored} of ${TOTAL} records`);
    },
  };
}

/** Columns (name, type, NOT NULL, default, primary key) and indexes (unique, columns) of `records`. */
function describeRecordsTable(path: string): string {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    const columns = db.pragma('table_info(records)') as {
      name: string;
      type: string;
      notnull: number;
      dflt_value: string | null;
      pk: number;
    }[];
    const indexes = db.pragma('index_list(records)') as { name: string; unique: number }[];
    const ddl = (
      db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'records'").get() as {
        sql: string;
      }
    ).sql;
    return [
      ...columns.map(
        (c) =>
          `column ${c.name} ${c.type.toLowerCase()} notnull=${c.notnull} default=${c.dflt_value} pk=${c.pk}`,
      ),
      `autoincrement=${/autoincrement/i.test(ddl)}`,
      ...indexes
        .map((i) => {
          const cols = (db.pragma(`index_info(${JSON.stringify(i.name)})`) as { name: string }[]).map(
            (c) => c.name,
          );
          return `index ${i.name} unique=${i.unique} (${cols.join(', ')})`;
        })
        .sort(),
    ].join('\n');
  } finally {
    db.close();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const bodies = makeBodies();
const mb = bodies.reduce((n, b) => n + b.length, 0) / 1e6;
console.log(
  `${BATCHES} batches × ${BATCH} records (${mb.toFixed(0)} MB of JSON), 20 features, synchronous=FULL, interleaved`,
);
const sinks = [
  rawSink(),
  await appSink('app, aggregation off', false),
  await appSink('app, aggregation on', true),
  await outsideSink('server process, agg. on'),
];
// batchMs[s][b]: time sink s took for batch b.
const batchMs = sinks.map(() => new Array<number>(BATCHES).fill(0));
for (let b = 0; b < BATCHES; b++) {
  for (let k = 0; k < sinks.length; k++) {
    const s = (b + k) % sinks.length;
    const start = process.hrtime.bigint();
    await (sinks[s] as Sink).store(bodies[b] as string);
    (batchMs[s] as number[])[b] = Number(process.hrtime.bigint() - start) / 1e6;
  }
}
for (const sink of sinks) await sink.close();
const [raw, off] = sinks as [Sink, Sink, Sink, Sink];
const rawSchema = describeRecordsTable(raw.path);
const appSchema = describeRecordsTable(off.path);
for (const sink of sinks) removeDatabase(sink.path);
if (appSchema !== rawSchema) {
  console.log(
    `WARNING: the raw table no longer matches the app's records table:\napp:\n${appSchema}\nraw:\n${rawSchema}`,
  );
}

const rates = sinks.map((sink, s) => {
  const ms = (batchMs[s] as number[]).reduce((a, v) => a + v, 0);
  const rate = TOTAL / (ms / 1000);
  console.log(
    `${sink.label.padEnd(22)} ${TOTAL.toLocaleString()} records in ${ms.toFixed(0).padStart(6)} ms = ` +
      `${Math.round(rate).toLocaleString().padStart(9)} records/s`,
  );
  return rate;
}) as [number, number, number, number];
/** Median over batches of a's throughput over b's (time b took / time a took). */
const perBatch = (a: number, b: number) =>
  median((batchMs[b] as number[]).map((ms, i) => ms / ((batchMs[a] as number[])[i] as number))).toFixed(3);
console.log(
  `ratio app/raw throughput: ${(rates[1] / rates[0]).toFixed(3)} (aggregation off), ${(rates[2] / rates[0]).toFixed(3)} (aggregation on); ` +
    `per-batch median ${perBatch(1, 0)}, ${perBatch(2, 0)}`,
);
console.log(
  `ratio outside/raw throughput: ${(rates[3] / rates[0]).toFixed(3)} (server process over HTTP, aggregation on); ` +
    `per-batch median ${perBatch(3, 0)}`,
);
console.log(
  `ratio on/off throughput:  ${(rates[2] / rates[1]).toFixed(3)}; per-batch median ${perBatch(2, 1)}`,
);
const records = (v: number) => ({
  label: 'raw better-sqlite3 inserts of the same JSON',
  value: v,
  unit: 'records/s',
});
writeResult(
  'ingest',
  `POST /v1/ingest through the in-process app (no socket) and a server process over HTTP, ${BATCHES} batches × ${BATCH} records, 20 features, ` +
    'synchronous=FULL, interleaved batch by batch with the raw inserts',
  [
    {
      id: 'ingest.sqlite.on',
      figure: 'SQLite ingest throughput, aggregation on (baseline active), over raw inserts',
      value: rates[2],
      unit: 'records/s',
      baseline: records(rates[0]),
      ratio: rates[2] / rates[0],
      target: 'ratio ≥ 0.7',
      met: rates[2] / rates[0] >= 0.7,
    },
    {
      id: 'ingest.sqlite.outside',
      figure:
        'SQLite ingest throughput from outside (server process, HTTP), aggregation on, over raw inserts',
      value: rates[3],
      unit: 'records/s',
      baseline: records(rates[0]),
      ratio: rates[3] / rates[0],
      target: 'ratio ≥ 0.5',
      met: rates[3] / rates[0] >= 0.5,
    },
    {
      id: 'ingest.sqlite.off',
      figure: 'SQLite ingest throughput, aggregation off, over raw inserts',
      value: rates[1],
      unit: 'records/s',
      baseline: records(rates[0]),
      ratio: rates[1] / rates[0],
      target: null,
      met: null,
    },
  ],
);
