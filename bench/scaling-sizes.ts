// What grows with traffic and what does not, for docs/scaling.md: the same records (20 features and a
// prediction, spread over closed hourly buckets, shifted from the baseline so alerts fire) ingested into a
// fresh SQLite file and a fresh PostgreSQL database with a baseline active, then one rollup job run (which
// deflates the closed buckets' count vectors) and one drift tick. Prints the
// rows and bytes per table after ingest and after the tick: bytes per raw record, and per bucket for the
// aggregates, drift results and alerts. PostgreSQL sizes are pg_total_relation_size (heap, indexes, TOAST;
// records summed over its day partitions) after VACUUM FULL, i.e. without the dead tuples of in-place
// aggregate merges; SQLite sizes are dbstat pages in use.
//
//   npx tsx bench/scaling-sizes.ts        BENCH_SCALING_RECORDS (24,000), BENCH_SCALING_BUCKETS (24)
// The PostgreSQL cluster is test/pg/cluster.ts's throwaway one (fsync off). Prints only; writes no results.
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { defaultConfig } from '../src/config/index.js';
import type { AppDeps } from '../src/context.js';
import { runDriftTick } from '../src/jobs/drift-tick.js';
import { runRollupTick } from '../src/retention/rollup.js';
import { openStore } from '../src/store/index.js';
import type { SqliteStore } from '../src/store/sqlite/index.js';
import { startCluster } from '../test/pg/cluster.js';
import { featureRow, removeDatabase, rng, seedBaseline } from './common.js';

const RECORDS = Number(process.env.BENCH_SCALING_RECORDS ?? 24_000);
const BUCKETS = Number(process.env.BENCH_SCALING_BUCKETS ?? 24);
const BATCH = 2000;
const HOUR = 3_600_000;
const FEATURES = 20;
const TABLES = [
  'records',
  'model_versions',
  'aggregates',
  'bucket_stats',
  'traffic',
  'changed_buckets',
  'drift_results',
  'drift_result_summaries',
  'drift_feature_results',
  'feature_latest',
  'alerts',
  'alert_evidence',
  'alert_events',
] as const;
type Sizes = Record<string, { rows: number; bytes: number }>;

const now = Math.floor(Date.now() / HOUR) * HOUR;
const start = now - BUCKETS * HOUR;

async function sqliteSizes(store: SqliteStore): Promise<Sizes> {
  const db = store.connection.sqlite;
  db.pragma('wal_checkpoint(TRUNCATE)');
  const out: Sizes = {};
  for (const t of TABLES) {
    const rows = (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    // The table and its indexes (autoindexes and named ones), pages in use.
    const bytes = (
      db
        .prepare(
          `SELECT coalesce(sum(pgsize - unused), 0) AS b FROM dbstat
           WHERE name = ? OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?)`,
        )
        .get(t, t) as { b: number }
    ).b;
    out[t] = { rows, bytes };
  }
  return out;
}

async function pgSizes(url: string): Promise<Sizes> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Sizes = {};
    for (const t of TABLES) {
      const rows = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n);
      const parts = (
        await c.query<{ rel: string }>(
          `SELECT inhrelid::regclass::text AS rel FROM pg_inherits WHERE inhparent = $1::regclass`,
          [t],
        )
      ).rows.map((r) => r.rel);
      let bytes = 0;
      for (const rel of parts.length ? parts : [t]) {
        await c.query(`VACUUM FULL ${rel}`);
        bytes += Number(
          (await c.query<{ b: string }>('SELECT pg_total_relation_size($1::regclass) AS b', [rel])).rows[0]
            ?.b,
        );
      }
      out[t] = { rows, bytes };
    }
    return out;
  } finally {
    await c.end();
  }
}

async function measure(label: string, deps: AppDeps, sizes: () => Promise<Sizes>): Promise<void> {
  const app = createApp(deps);
  const r = rng(11);
  const training = Array.from({ length: 10_000 }, () => JSON.stringify(featureRow(r))).join('\n');
  await seedBaseline({ request: async (url, init) => app.request(url, init) }, 'm', 'v1', training);
  const before = await sizes();
  const rec = rng(5);
  for (let i = 0; i < RECORDS; i += BATCH) {
    const body = Array.from({ length: Math.min(BATCH, RECORDS - i) }, (_, j) => ({
      model: 'm',
      model_version: 'v1',
      request_id: `req-${(i + j).toString(36)}-${Math.floor(rec() * 1e9).toString(36)}`,
      timestamp: start + Math.floor(((i + j) / RECORDS) * BUCKETS * HOUR),
      features: featureRow(rec, 0.3),
      prediction: rec(),
    }));
    const res = await app.request('/v1/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`${label} ingest: ${res.status} ${await res.text()}`);
  }
  // Closed buckets as the leader keeps them: the rollup job deflates their count vectors.
  await runRollupTick(deps, now + 1);
  const ingested = await sizes();
  const tick = await runDriftTick(deps, now + 1);
  if (tick.errors.length) throw new Error(`${label} drift tick: ${JSON.stringify(tick.errors)}`);
  const after = await sizes();

  console.log(
    `\n${label}: ${RECORDS.toLocaleString('en-US')} records, ${FEATURES} features + prediction, ${BUCKETS} closed hourly buckets; drift tick evaluated ${tick.evaluated} windows`,
  );
  console.log('  table                  rows   bytes    per record  per bucket');
  for (const t of TABLES) {
    const b0 = before[t] as { rows: number; bytes: number };
    const end = (t.startsWith('drift') || t.startsWith('alert') || t === 'feature_latest' ? after : ingested)[
      t
    ] as { rows: number; bytes: number };
    const rows = end.rows - b0.rows;
    const bytes = end.bytes - b0.bytes;
    console.log(
      `  ${t.padEnd(22)} ${String(rows).padStart(5)} ${String(bytes).padStart(9)} ${(bytes / RECORDS).toFixed(1).padStart(9)} B ${(bytes / BUCKETS / 1024).toFixed(1).padStart(8)} KB`,
    );
  }
  const a = after.alerts as { rows: number };
  console.log(`  open alerts after the tick: ${a.rows}`);
}

const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ');
console.log(`load average at start: ${load()} (1 / 5 / 15 min)`);
const config = { drift: { bucket: '1h', rollingWindow: '24h' } };

{
  const path = join(tmpdir(), `driftwatch-scaling-${process.pid}.sqlite`);
  removeDatabase(path);
  const cfg = defaultConfig({ ...config, database: { path } });
  const store = await openStore(cfg.database);
  await measure('SQLite', { config: cfg, store, log: pino({ level: 'silent' }), clock: Date.now }, () =>
    sqliteSizes(store as SqliteStore),
  );
  await store.close();
  removeDatabase(path);
}

{
  const cluster = await startCluster();
  try {
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE dw_scaling');
    await admin.end();
    const url = cluster.urlFor('dw_scaling');
    const cfg = defaultConfig({ ...config, database: { url } });
    const store = await openStore(cfg.database);
    await measure('PostgreSQL', { config: cfg, store, log: pino({ level: 'silent' }), clock: Date.now }, () =>
      pgSizes(url),
    );
    await store.close();
  } finally {
    cluster.stop();
  }
}
console.log(`\nload average at end: ${load()}`);
