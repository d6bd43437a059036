import { afterEach, describe, expect, it } from 'vitest';
import { openPgStore, type PgStore } from '../../src/store/pg/index.js';
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
});
