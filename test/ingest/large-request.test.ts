import { afterEach, describe, expect, it } from 'vitest';
import { Client, hour, mBatch } from '../alerts/helpers.js';
import { syntheticTraining } from '../drift/helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('a request larger than one transaction', () => {
  it('stores and aggregates every record exactly once, with duplicates and rejections counted as usual', async () => {
    t = makeTestApp({ drift: { bucket: '1h', minSamples: 10 } });
    const client = new Client(t.app);
    await client.baseline('m', JSON.stringify(syntheticTraining()), 'application/json');
    // 17,500 records: three transactions of at most 8000, spread over three hourly buckets.
    const records = [
      ...mBatch('a', hour(6), 0, 8000),
      ...mBatch('b', hour(7), 0, 8000),
      ...mBatch('c', hour(8), 0, 1500),
    ];
    const lines = [...records, records[5], { model: 'm', request_id: 9, features: {} }]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const res = await t.app.request('/v1/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: lines,
    });
    const body = (await res.json()) as { accepted: number; duplicates: number; rejected: { line: number }[] };
    expect(res.status).toBe(207);
    expect(body).toMatchObject({ accepted: 17_500, duplicates: 1 });
    expect(body.rejected.map((r) => r.line)).toEqual([17_502]);
    const [result] = await client.driftRun('m', { from: hour(6), to: hour(9) });
    expect(result?.n).toBe(17_500);
    expect(result?.features.find((f) => f.feature === 'x')?.n).toBe(17_500);
    const models = (await client.get<{ record_count: number }>('/v1/models/m')).body;
    expect(models.record_count).toBe(17_500);
  });
});
