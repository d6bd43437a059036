import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { AggregateDelta, NewRecord } from '../../src/store/index.js';
import { connectionSettings, LOCK_KEYS } from '../../src/store/pg/client.js';
import { openPgStore, type PgStore } from '../../src/store/pg/index.js';
import { PgLeaderLock } from '../../src/store/pg/leader.js';
import { partitionName, receivedDay } from '../../src/store/pg/partitions.js';
import { INSERT_RECORDS } from '../../src/store/pg/records.js';
import { createTestDatabase } from './databases.js';

// What only a shared PostgreSQL has to get right: several processes (here: several pools) at once.

const DAY = 86_400_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function emptyDatabase(): Promise<string> {
  const name = `e_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: inject('pgUrl') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  cleanups.push(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
  const u = new URL(inject('pgUrl'));
  u.pathname = `/${name}`;
  return u.toString();
}

async function stores(n: number): Promise<PgStore[]> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const list = await Promise.all(
    Array.from({ length: n }, () => openPgStore({ url: db.url, poolSize: 4 }, { migrate: false })),
  );
  for (const s of list) cleanups.push(() => s.close());
  return list;
}

const record = (requestId: string, ts = 1_000): NewRecord => ({
  model: 'm',
  modelVersion: 'v1',
  requestId,
  ts,
  features: { x: 1 },
  prediction: null,
  label: null,
  latencyMs: null,
  status: null,
  error: null,
  tags: null,
});

describe('PostgreSQL store', () => {
  it('migrates once when several processes start on an empty database at the same moment', async () => {
    const url = await emptyDatabase();
    const opened = await Promise.all(Array.from({ length: 4 }, () => openPgStore({ url, poolSize: 2 })));
    for (const s of opened) cleanups.push(() => s.close());
    const statuses = await Promise.all(opened.map((s) => s.migrationStatus()));
    for (const st of statuses) expect(st.applied).toBe(st.expected);
    const rows = await opened[0]?.pool.query('SELECT count(*) AS n FROM drizzle.__drizzle_migrations');
    expect(rows?.rows[0]?.n).toBe(statuses[0]?.expected);
  });

  it('adds aggregate counts from concurrent writers without losing any', async () => {
    const [a, b] = await stores(2);
    const key = { model: 'm', modelVersion: 'v1', baselineId: 1, bucketStart: 0, bucketMs: 3_600_000 };
    const delta = (name: string, cell: number): AggregateDelta => ({
      ...key,
      role: 'feature',
      name,
      n: 1,
      missing: 1,
      typeMismatch: 0,
      outOfRange: 0,
      unseen: 0,
      offEdge: 0,
      vmin: cell,
      vmax: cell,
      counts: Uint32Array.from({ length: 8 }, (_, i) => (i === cell ? 1 : 0)),
    });
    // 40 transactions on two pools, each adding to the same two rows (in either order), most racing the insert.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b)?.tx((tx) =>
          tx.aggregates.add(
            i % 3 ? [delta('x', i % 8), delta('y', 0)] : [delta('y', 0), delta('x', i % 8)],
            i,
          ),
        ),
      ),
    );
    const rows = await a?.read((tx) => tx.aggregates.window({ ...key, from: 0, to: 1 }));
    const x = rows?.find((r) => r.name === 'x');
    const y = rows?.find((r) => r.name === 'y');
    expect(x).toMatchObject({ n: 40, missing: 40, vmin: 0, vmax: 7 });
    expect([...(x?.counts ?? [])]).toEqual([5, 5, 5, 5, 5, 5, 5, 5]);
    expect(y?.n).toBe(40);
    expect(y?.counts[0]).toBe(40);
  });

  it('stores a record once per (model, request id), across concurrent writers and receipt days', async () => {
    const [a, b] = await stores(2);
    const ids = Array.from({ length: 500 }, (_, i) => `r-${i}`);
    const day0 = Date.parse('2026-11-20T12:00:00Z');
    // Four writers on two pools at once, on one receipt day: the unique index decides.
    const results = await Promise.all(
      [a, b, a, b].map((s, i) =>
        s?.tx((tx) =>
          tx.records.insert(
            ids.map((id) => record(id)),
            day0 + i,
          ),
        ),
      ),
    );
    expect(results.reduce((n, r) => n + (r?.length ?? 0), 0)).toBe(500);
    // A retry on a later day is still a duplicate (checked against the other days' partitions). Two retries
    // racing on either side of midnight UTC are the documented exception.
    const later = await b?.tx((tx) => tx.records.insert([record('r-7'), record('new')], day0 + 3 * DAY));
    expect(later?.map((r) => r.requestId)).toEqual(['new']);
    const count = await a?.pool.query('SELECT count(*) AS n FROM records');
    expect(count?.rows[0]?.n).toBe(501);
  });

  it('stores JSON columns as sent and absent ones as NULL, alone or in a batch', async () => {
    const [s] = await stores(1);
    const full: NewRecord = {
      ...record('full'),
      features: { a: 'x\u001ey "quoted" \\ back', b: 1.5, c: null },
      prediction: { yes: 0.25, no: 0.75 },
      label: 'no',
      tags: { region: 'eu\u001e1' },
    };
    // A lone record with every JSON column empty, then a batch mixing empty and full ones.
    await s?.tx((tx) => tx.records.insert([record('lone')], 1_000));
    await s?.tx((tx) => tx.records.insert([record('e1'), full, record('e2')], 1_000));
    const rows = await s?.pool.query(
      'SELECT request_id, features, prediction, label, tags FROM records ORDER BY request_id',
    );
    const empty = { features: '{"x":1}', prediction: null, label: null, tags: null };
    expect(rows?.rows).toEqual([
      { request_id: 'e1', ...empty },
      { request_id: 'e2', ...empty },
      {
        request_id: 'full',
        features: JSON.stringify(full.features),
        prediction: JSON.stringify(full.prediction),
        label: '"no"',
        tags: JSON.stringify(full.tags),
      },
      { request_id: 'lone', ...empty },
    ]);
  });

  it("checks the other receipt days for a duplicate without reading the receipt day's own partition", async () => {
    const [s] = await stores(1);
    const day0 = Date.parse('2026-11-20T12:00:00Z');
    const day = receivedDay(day0);
    await s?.tx((tx) => tx.records.insert([record('early')], day0 - DAY));
    await s?.tx((tx) => tx.records.insert([record('today')], day0));
    // A retry received on the day before or after its record is a duplicate either way.
    const retried = await s?.tx((tx) =>
      tx.records.insert([record('early'), record('today'), record('fresh')], day0 + DAY),
    );
    expect(retried?.map((r) => r.requestId)).toEqual(['fresh']);
    // Today's partition is covered by the unique index (ON CONFLICT); scanning it for the other-day check
    // read every row received today on every insert.
    const one = (v: unknown) => [v];
    const plan = await s?.pool.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${INSERT_RECORDS}`, [
      one('m'),
      one('v1'),
      one('x'),
      one(1),
      '{}',
      '',
      '',
      one(null),
      one(null),
      one(null),
      '',
      day0,
      day,
    ]);
    const text = JSON.stringify(plan?.rows[0]?.['QUERY PLAN']);
    expect(text).toContain(partitionName(day - 1));
    expect(text).not.toContain(partitionName(day));
  });

  it('prunes by dropping whole receipt days, counting exactly what went', async () => {
    const [s] = await stores(1);
    const day0 = Date.parse('2026-11-20T00:00:00Z');
    for (let d = 0; d < 4; d++) {
      await s?.tx((tx) =>
        tx.records.insert(
          Array.from({ length: 10 + d }, (_, i) => record(`d${d}-${i}`)),
          day0 + d * DAY + 6 * 3_600_000,
        ),
      );
    }
    const partitions = async () =>
      (
        await s?.pool.query<{ name: string }>(
          `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'records'::regclass ORDER BY 1`,
        )
      )?.rows.map((r) => r.name) ?? [];
    const dayOf = (ms: number) => `records_p${Math.floor(ms / DAY)}`;
    expect(await partitions()).toEqual(
      expect.arrayContaining([0, 1, 2, 3].map((d) => dayOf(day0 + d * DAY))),
    );
    // Cutoff in the middle of day 2: days 0 and 1 are dropped whole, day 2's early rows deleted.
    const pruned = await s?.tx((tx) => tx.records.prune('records', day0 + 2 * DAY + 12 * 3_600_000, 1_000));
    expect(pruned).toBe(10 + 11 + 12);
    const left = await partitions();
    expect(left).not.toContain(dayOf(day0));
    expect(left).not.toContain(dayOf(day0 + DAY));
    const count = await s?.pool.query('SELECT count(*) AS n FROM records');
    expect(count?.rows[0]?.n).toBe(13);
  });

  it('hands leadership over when the leader loses its connection', async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const { config } = connectionSettings({ url: db.url });
    const a = new PgLeaderLock(config, 'a');
    const b = new PgLeaderLock(config, 'b');
    cleanups.push(() => a.release());
    cleanups.push(() => b.release());
    expect(await a.hold(0)).toBe(true);
    expect(await b.hold(0)).toBe(false);
    expect(await a.hold(0)).toBe(true);
    expect((await b.holder())?.holder).toBe('a');
    // The database ends the leader's session (a failover, a network cut noticed by keepalive, an admin).
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    cleanups.push(() => admin.end());
    const killed = await admin.query(
      `SELECT pg_terminate_backend(l.pid) AS ok FROM pg_locks l
       WHERE l.locktype = 'advisory' AND l.objid = $1 AND l.granted`,
      [LOCK_KEYS.leader],
    );
    expect(killed.rows).toEqual([{ ok: true }]);
    // The deposed leader learns it at its next check, and another takes over.
    expect(await a.hold(0)).toBe(false);
    expect(await b.hold(0)).toBe(true);
    expect((await a.holder())?.holder).toBe('b');
    // A clean release hands over at once.
    await b.release();
    expect(await a.hold(0)).toBe(true);
  });
});
