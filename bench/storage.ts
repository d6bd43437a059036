// What aggregates cost on disk: 100k records of 20 features over 24 hourly buckets, ingested into two SQLite
// files, one without a baseline (records only) and one with an active baseline (records and aggregates).
// The difference in database size, per bucket, is what the aggregates add, once the rollup job has deflated
// the closed buckets' count vectors; per table and index, pages against payload. Alongside: the bytes of the
// count vectors as stored and as dense uint32 vectors (the format before sparse cells), from the same rows,
// and what the aggregates take per day once rolled up into days.
//
//   npx tsx bench/storage.ts
//   BENCH_STORAGE_RECORDS=20000 npx tsx bench/storage.ts    a smaller run
// Prints KB per bucket against the target (≤ 10 KB); never fails on sizes.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRollupTick } from '../src/retention/rollup.js';
import { decodeCounts } from '../src/store/counts.js';
import type { SqliteStore } from '../src/store/sqlite/index.js';
import { benchApp, benchDeps, featureRow, removeDatabase, rng, writeResult } from './common.js';

const RECORDS = Number(process.env.BENCH_STORAGE_RECORDS ?? 100_000);
const BUCKETS = 24;
const TARGET_KB = 10;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const config = { drift: { bucket: '1h', rollingWindow: '24h' } };
const start = Math.floor(Date.now() / HOUR) * HOUR - BUCKETS * HOUR;

/** Database size in bytes after a checkpoint (pages in use; freed pages left out). */
function databaseBytes(path: string): number {
  const deps = benchDeps(path, config);
  const db = (deps.store as SqliteStore).connection.sqlite;
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  const size = db.pragma('page_size', { simple: true }) as number;
  void deps.store.close();
  return (pages - free) * size;
}

type Objects = Map<string, { bytes: number; payload: number }>;

/** Pages (bytes) and payload per table and index (dbstat). */
function objectBytes(path: string): Objects {
  const deps = benchDeps(path, config);
  const db = (deps.store as SqliteStore).connection.sqlite;
  const rows = db
    .prepare('SELECT name, sum(pgsize) AS bytes, sum(payload) AS payload FROM dbstat GROUP BY name')
    .all() as { name: string; bytes: number; payload: number }[];
  void deps.store.close();
  return new Map(rows.map((r) => [r.name, r]));
}

async function run(withBaseline: boolean): Promise<{ path: string; bytes: number; objects: Objects }> {
  const path = join(tmpdir(), `driftwatch-bench-storage-${withBaseline ? 'b' : 'n'}-${process.pid}.sqlite`);
  removeDatabase(path);
  const app = await benchApp(path, config);
  if (withBaseline) {
    const r = rng(3);
    const rows = Array.from({ length: 5000 }, () => JSON.stringify(featureRow(r))).join('\n');
    const res = await app.request('/v1/models/m/baselines', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: rows,
    });
    if (res.status !== 201) throw new Error(`baseline: ${res.status} ${await res.text()}`);
  }
  await app.close();
  const empty = databaseBytes(path);
  const before = objectBytes(path);
  const ingest = await benchApp(path, config);
  const r = rng(5);
  const BATCH = 2000;
  for (let i = 0; i < RECORDS; i += BATCH) {
    const records = Array.from({ length: Math.min(BATCH, RECORDS - i) }, (_, j) => ({
      model: 'm',
      model_version: 'v1',
      request_id: `r-${i + j}`,
      timestamp: new Date(start + Math.floor(((i + j) / RECORDS) * BUCKETS * HOUR)).toISOString(),
      features: featureRow(r),
    }));
    const res = await ingest.request('/v1/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(records),
    });
    if (res.status !== 200) throw new Error(`ingest: ${res.status} ${await res.text()}`);
  }
  await ingest.close();
  // The closed buckets as the leader keeps them: the rollup job deflates their count vectors.
  const deps = benchDeps(path, config);
  await runRollupTick(deps, Date.now());
  await deps.store.close();
  const bytes = databaseBytes(path) - empty;
  const objects: Objects = new Map();
  for (const [name, r] of objectBytes(path)) {
    const s0 = before.get(name) ?? { bytes: 0, payload: 0 };
    objects.set(name, { bytes: r.bytes - s0.bytes, payload: r.payload - s0.payload });
  }
  return { path, bytes, objects };
}

console.log(`${RECORDS.toLocaleString('en-US')} records, 20 features, ${BUCKETS} hourly buckets`);
const without = await run(false);
const withB = await run(true);
const perBucket = (withB.bytes - without.bytes) / BUCKETS / 1024;
console.log(`  database growth without a baseline: ${(without.bytes / 1024).toFixed(0)} KB`);
console.log(`  database growth with an active baseline: ${(withB.bytes / 1024).toFixed(0)} KB`);
writeResult('storage', `${RECORDS} records, 20 features, ${BUCKETS} hourly buckets`, [
  {
    id: 'storage.bucket',
    figure:
      'database growth per 20-feature hourly bucket from aggregates (with vs without an active baseline)',
    value: perBucket,
    unit: 'KB',
    baseline: null,
    ratio: null,
    target: `≤ ${TARGET_KB} KB`,
    met: perBucket <= TARGET_KB,
  },
]);
console.log(
  `  aggregates: ${perBucket.toFixed(1)} KB per 20-feature bucket (target ≤ ${TARGET_KB} KB): ${perBucket <= TARGET_KB ? 'within' : 'over'}`,
);

// Where those bytes are: per table and index, the growth of its pages in use with a baseline minus that
// without one, and of the payload (row bytes) within them; the rest is SQLite page overhead (part-filled
// pages, cell headers).
{
  console.log('  per table / index, KB per bucket:   pages   payload');
  const kb = (b: number) => (b / BUCKETS / 1024).toFixed(1).padStart(7);
  for (const [name, r] of withB.objects) {
    const o = without.objects.get(name) ?? { bytes: 0, payload: 0 };
    if (r.bytes !== o.bytes)
      console.log(`    ${name.padEnd(32)} ${kb(r.bytes - o.bytes)} ${kb(r.payload - o.payload)}`);
  }
}

// The count vectors of the same rows: as stored, and as dense uint32 vectors would be.
{
  const deps = benchDeps(withB.path, config);
  const db = (deps.store as SqliteStore).connection.sqlite;
  const rows = db.prepare('SELECT counts FROM aggregates').all() as { counts: Buffer }[];
  let stored = 0;
  let dense = 0;
  for (const row of rows) {
    stored += row.counts.byteLength;
    dense += decodeCounts(row.counts).length * 4;
  }
  const buckets = (
    db.prepare('SELECT count(DISTINCT bucket_start) AS n FROM aggregates').get() as { n: number }
  ).n;
  console.log(
    `  count vectors of ${rows.length} aggregate rows in ${buckets} buckets: ${(stored / buckets / 1024).toFixed(1)} KB per bucket as stored, ${(dense / buckets / 1024).toFixed(1)} KB dense (${(stored / dense).toFixed(2)} of dense)`,
  );
  await deps.store.close();
}
// The same aggregates once rolled up into days (retention.hourlyDays later): pages per UTC day they cover.
{
  const deps = benchDeps(withB.path, config);
  const db = (deps.store as SqliteStore).connection.sqlite;
  const pagesOf = () =>
    (db.prepare("SELECT sum(pgsize) AS b FROM dbstat WHERE name = 'aggregates'").get() as { b: number }).b;
  const hourly = pagesOf();
  const rolled = await runRollupTick(deps, Date.now() + (deps.config.retention.hourlyDays + 2) * DAY);
  db.exec('VACUUM');
  const days = (
    db.prepare('SELECT count(DISTINCT bucket_start) AS n FROM aggregates WHERE bucket_ms = ?').get(DAY) as {
      n: number;
    }
  ).n;
  console.log(
    `  rolled up into ${days} days (${rolled.rows} rows merged): aggregates ${(pagesOf() / days / 1024).toFixed(1)} KB per day after VACUUM, against ${(hourly / BUCKETS / 1024).toFixed(1)} KB per hourly bucket`,
  );
  await deps.store.close();
}
removeDatabase(without.path);
removeDatabase(withB.path);
