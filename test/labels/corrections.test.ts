import { afterEach, describe, expect, it } from 'vitest';
import { Client, hour, mBatch } from '../alerts/helpers.js';
import { syntheticTraining } from '../drift/helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('correcting a label', () => {
  it('recounts its bucket, so a huge error taken out leaves the others exact', async () => {
    t = makeTestApp({ drift: { bucket: '1h', minSamples: 1 } });
    const client = new Client(t.app);
    await client.baseline('m', JSON.stringify(syntheticTraining()), 'application/json');
    await client.ingest(mBatch('p', hour(8), 0, 3).map((r) => ({ ...r, prediction: 0 })));
    const label = (labels: { request_id: string; label: number }[]) =>
      client.post(
        '/v1/labels',
        labels.map((l) => ({ model: 'm', ...l })),
      );
    expect(
      (
        await label([
          { request_id: 'p-0', label: 1 },
          { request_id: 'p-1', label: 2 },
          { request_id: 'p-2', label: 1e60 },
        ])
      ).status,
    ).toBe(200);
    expect((await label([{ request_id: 'p-2', label: 3 }])).status).toBe(200);
    const [result] = await client.driftRun('m', { from: hour(8), to: hour(9) });
    expect(result?.performance.labeled).toBe(3);
    expect(result?.performance.mae).toBe(2);
    expect(result?.performance.rmse).toBeCloseTo(Math.sqrt(14 / 3), 12);
    // Removing a label (null) recounts too.
    expect((await label([{ request_id: 'p-2', label: null as unknown as number }])).status).toBe(200);
    const [after] = await client.driftRun('m', { from: hour(8), to: hour(9) });
    expect(after?.performance).toMatchObject({ labeled: 2, mae: 1.5 });
  });
});
