import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runStoreCopy } from '../../src/cli/store-copy.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { openPgStore } from '../../src/store/pg/index.js';
import { Client, HOUR, hour, mBatch, QUEUE_ONLY, setupM } from '../alerts/helpers.js';
import { FIXED_NOW, makeTestAppOn, type TestApp, tempDir } from '../support.js';
import { createTestDatabase } from './databases.js';

// A sidecar that started on SQLite grows into the shared PostgreSQL without losing its history: what the
// API shows before the copy, it shows after it, and the fleet carries on from there.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Everything a reviewer can see of model m, as the API shows it. */
async function snapshot(client: Client) {
  const alerts = await client.alerts('status=open,acknowledged,decided,snoozed,closed');
  return {
    alerts: await Promise.all(alerts.map((a) => client.alert(a.id))),
    models: (await client.get('/v1/models')).body,
    model: (await client.get('/v1/models/m')).body,
    baselines: (await client.get('/v1/models/m/baselines')).body,
    drift: (await client.get(`/v1/models/m/drift?from=${hour(0)}&to=${FIXED_NOW + HOUR}&limit=1000`)).body,
    latest: (await client.get('/v1/models/m/drift/latest')).body,
    histogram: (await client.get('/v1/models/m/features/x/histogram')).body,
    traffic: (await client.get(`/v1/models/m/traffic?from=${hour(0)}&to=${FIXED_NOW + HOUR}`)).body,
    records: (await client.get('/v1/models/m/records?limit=1000')).body,
    retrain: (await client.get('/v1/retrain-requests')).body,
    rejections: (await client.get('/v1/ingest/rejections?limit=1000')).body,
  };
}

describe('driftwatch store copy', () => {
  it('moves a SQLite sidecar into PostgreSQL: the API answers the same, then ingest and review carry on', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const file = join(dir, 'sidecar.db');
    const m = await setupM({ ...QUEUE_ONLY, database: { path: file } });
    // Two drifted hours and a quiet one, a bad record, then a review: ack, comment, retrain decision.
    await m.window('a', hour(8), 0.6);
    await m.window('b', hour(9), 0.6);
    await m.window('c', hour(10), 0);
    const bad = await m.admin.post('/v1/ingest', [{ model: 'm', request_id: 'bad', features: 'nope' }]);
    expect(bad.status).toBe(422);
    await m.tick(hour(12));
    const opened = await m.reviewer.alertOf('x');
    const acked = await m.reviewer.act(opened.id, 'ack', { note: 'looking' }, opened.version);
    expect(acked.status).toBe(200);
    expect(
      (await m.reviewer.post(`/v1/alerts/${opened.id}/comments`, { text: 'top decile grew' })).status,
    ).toBe(201);
    const decided = await m.reviewer.act(
      opened.id,
      'decision',
      { decision: 'retrain', note: 'new season' },
      acked.body.version,
    );
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    const before = await snapshot(m.reviewer);
    expect(before.alerts.length).toBeGreaterThan(0);
    expect((before.retrain as { retrain_requests: unknown[] }).retrain_requests).toHaveLength(1);
    const deliveriesBefore = await m.deliveries();
    expect(deliveriesBefore.length).toBeGreaterThan(0);
    await m.t.close();

    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const lines: string[] = [];
    await runStoreCopy(file, db.url, (l) => lines.push(l));
    expect(lines.join('\n')).toMatch(/^records\s+600$/m);
    expect(lines.join('\n')).toMatch(/^alert_events\s+\d+$/m);

    // The sidecar's config (setupM's drift settings), now on the shared database.
    const pg: TestApp = makeTestAppOn(await openPgStore({ url: db.url, poolSize: 2 }), {
      ...QUEUE_ONLY,
      drift: { bucket: '1h', rollingWindow: '1h', minSamples: 100 },
    });
    cleanups.push(() => pg.close());
    pg.setNow(hour(12));
    const client = new Client(pg.app);
    expect(await snapshot(client)).toEqual(before);
    expect(await pg.sql('SELECT id, event, payload, status FROM deliveries ORDER BY id')).toEqual(
      deliveriesBefore,
    );

    // A second copy into the now non-empty database is refused and changes nothing.
    await expect(runStoreCopy(file, db.url, () => undefined)).rejects.toThrow(/already holds data/);

    // The fleet carries on: new records (one re-sent from before is a duplicate), new alerts after the old ids.
    const more = await client.post<{ accepted: number; duplicates: number }>('/v1/ingest', [
      { model: 'm', request_id: 'a-0', timestamp: hour(8), features: { x: 1, color: 'red' } },
      { model: 'm', request_id: 'new-1', timestamp: hour(11), features: { x: 199, color: 'red' } },
    ]);
    expect(more.body).toMatchObject({ accepted: 1, duplicates: 1 });
    const current = await client.alert(opened.id);
    const closed = await client.act(opened.id, 'close', { note: 'retrained' }, current.version);
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    const commented = await client.post(`/v1/alerts/${opened.id}/comments`, { text: 'after the move' });
    expect(commented.status).toBe(201);
    const maxBefore = Math.max(...before.alerts.map((a) => a.id));
    await pg.exec("UPDATE alerts SET status = 'closed' WHERE status <> 'closed'");
    const shifted = await client.post('/v1/ingest', mBatch('d', hour(13), 0.6));
    expect(shifted.status).toBe(200);
    pg.setNow(hour(15));
    await runDriftTick(pg.deps, hour(15));
    const fresh = (await client.alerts()).filter((a) => a.id > maxBefore);
    expect(fresh.length).toBeGreaterThan(0);
  });

  it('refuses a source that is not a SQLite file and a target that is not PostgreSQL', async () => {
    await expect(
      runStoreCopy('postgres://x@127.0.0.1/db', 'postgres://y@127.0.0.1/db', () => undefined),
    ).rejects.toThrow(/--from must be a SQLite file/);
    await expect(runStoreCopy('./a.db', './b.db', () => undefined)).rejects.toThrow(
      /--to must be a postgres/,
    );
    await expect(
      runStoreCopy('./nope/missing.db', 'postgres://y@127.0.0.1/db', () => undefined),
    ).rejects.toThrow(/no such file/);
  });
});
