import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config/index.js';
import { Client, hour, MIN, mBatch } from '../alerts/helpers.js';
import { syntheticTraining } from '../drift/helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('a change of bucket size', () => {
  it('keeps new buckets apart from old rows that start at the same time', async () => {
    t = makeTestApp({ drift: { bucket: '1h', minSamples: 10 } });
    let client = new Client(t.app);
    await client.baseline('m', JSON.stringify(syntheticTraining()), 'application/json');
    await client.ingest(
      mBatch('old', hour(8) + 10 * MIN, 0, 100).map((r) => ({ ...r, timestamp: hour(8) + 10 * MIN })),
    );

    // The service restarted with 30-minute buckets, on the same database.
    const config = defaultConfig({
      database: { path: ':memory:' },
      drift: { bucket: '30m', minSamples: 10 },
    });
    client = new Client(createApp({ ...t.deps, config }));
    const at = (prefix: string, ts: number) =>
      mBatch(prefix, ts, 0, 100).map((r) => ({ ...r, timestamp: ts }));
    await client.ingest([...at('a', hour(8) + 10 * MIN), ...at('b', hour(8) + 40 * MIN)]);
    const first = await client.driftRun('m', { from: hour(8), to: hour(8) + 30 * MIN });
    expect(first.map((r) => r.n)).toEqual([100]);
    const both = await client.driftRun('m', { from: hour(8), to: hour(9) });
    expect(both.map((r) => r.n)).toEqual([200]);
    expect(both[0]?.features.find((f) => f.feature === 'x')?.n).toBe(200);
  });
});
