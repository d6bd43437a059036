import { afterEach, describe, expect, it } from 'vitest';
import type { PerformanceResult } from '../../src/performance/service.js';
import { openPgStore, type PgStore } from '../../src/store/pg/index.js';
import { getJson } from '../helpers.js';
import { makeTestAppOn, postJson, type TestApp } from '../support.js';
import { createTestDatabase } from './databases.js';

// Two processes labelling the same records at the same moment count each label once.

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c();
});

describe('labels from two processes at once', () => {
  it('counts every record labelled once, however the batches race', async () => {
    const db = await createTestDatabase();
    open.push(() => db.drop());
    const apps: TestApp[] = [];
    for (let i = 0; i < 2; i++) {
      const store: PgStore = await openPgStore({ url: db.url, poolSize: 4 }, { migrate: false });
      const t = makeTestAppOn(store);
      open.push(() => t.close());
      apps.push(t);
    }
    const [a, b] = apps as [TestApp, TestApp];
    const records = Array.from({ length: 200 }, (_, i) => ({
      model: 'm',
      request_id: `r-${i}`,
      timestamp: '2026-11-24T10:00:00Z',
      features: { x: i },
      prediction: i % 2 ? 'yes' : 'no',
    }));
    expect((await postJson(a.app, '/v1/ingest', { records })).status).toBe(200);
    for (let round = 0; round < 3; round++) {
      // The same labels posted to both processes at once (a client retrying on another replica, say).
      const labels = records.map((r, i) => ({
        model: 'm',
        request_id: r.request_id,
        label: (i + round) % 3 ? 'yes' : 'no',
      }));
      const shuffled = [...labels].reverse();
      const [ra, rb] = await Promise.all([
        postJson(a.app, '/v1/labels', { labels }),
        postJson(b.app, '/v1/labels', { labels: shuffled }),
      ]);
      expect(ra.status).toBe(200);
      expect(rb.status).toBe(200);
      const [stats] = await a.sql<{ labeled: number; correct: number }>(
        "SELECT sum(labeled) AS labeled, sum(correct) AS correct FROM bucket_stats WHERE model = 'm'",
      );
      const expectedCorrect = labels.filter((l, i) => l.label === records[i]?.prediction).length;
      expect({ labeled: Number(stats?.labeled), correct: Number(stats?.correct) }).toEqual({
        labeled: 200,
        correct: expectedCorrect,
      });
    }
  });

  it('keeps the realized confusion counts right when first labels and corrections race', async () => {
    const db = await createTestDatabase();
    open.push(() => db.drop());
    const apps: TestApp[] = [];
    for (let i = 0; i < 2; i++) {
      const store: PgStore = await openPgStore({ url: db.url, poolSize: 4 }, { migrate: false });
      const t = makeTestAppOn(store, { models: { m: { performance: { kind: 'binary', threshold: 0.5 } } } });
      open.push(() => t.close());
      apps.push(t);
    }
    const [a, b] = apps as [TestApp, TestApp];
    const records = Array.from({ length: 200 }, (_, i) => ({
      model: 'm',
      request_id: `r-${i}`,
      timestamp: '2026-11-24T10:00:00Z',
      features: { x: i },
      prediction: ((i * 37) % 100) / 100,
    }));
    expect((await postJson(a.app, '/v1/ingest', { records })).status).toBe(200);
    const from = Date.parse('2026-11-24T10:00:00Z');
    for (let round = 0; round < 3; round++) {
      // Round 0 labels every record for the first time (half from each process); later rounds correct them.
      const labels = records.map((r, i) => ({
        model: 'm',
        request_id: r.request_id,
        label: (i + round) % 3 ? 1 : 0,
      }));
      const [ra, rb] = await Promise.all([
        postJson(a.app, '/v1/labels', { labels: labels.filter((_, i) => i % 2 === 0) }),
        postJson(b.app, '/v1/labels', { labels: labels.filter((_, i) => i % 2 === 1).reverse() }),
      ]);
      expect(ra.status).toBe(200);
      expect(rb.status).toBe(200);
      const res = await getJson<{ results: PerformanceResult[] }>(
        a.app,
        `/v1/models/m/performance?kind=bucket&from=${from}&to=${from + 3_600_000}`,
      );
      const count = (p: number, y: number) =>
        records.filter((r, i) => (r.prediction >= 0.5 ? 1 : 0) === p && labels[i]?.label === y).length;
      expect(res.body.results[0]?.realized).toMatchObject({
        n: 200,
        confusion: {
          counts: [
            [count(0, 0), count(0, 1)],
            [count(1, 0), count(1, 1)],
          ],
        },
      });
    }
  });
});
