import { afterEach, describe, expect, it } from 'vitest';
import type { LabelResult } from '../../src/labels/service.js';
import { createBaseline, ingestAll, runDriftOne } from '../drift/helpers.js';
import { storedRecords } from '../helpers.js';
import { makeTestApp, postJson, type TestApp } from '../support.js';

// A regression label whose error is absurdly large (its square would overflow a bucket's sums to Infinity,
// and a later correction would compute Infinity − Infinity) is stored but not scored, and never costs the
// other labels of its batch.

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const H = Date.parse('2026-11-23T10:00:00Z');
const RANGE = { from: H, to: H + 3600e3 };

async function setup(records: Record<string, unknown>[]) {
  t = makeTestApp({ drift: { minSamples: 1 } });
  await createBaseline(
    t.app,
    'reg',
    JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ x: i }))),
    'application/json',
  );
  await ingestAll(
    t.app,
    records.map((r, i) => ({ model: 'reg', timestamp: H + i * 1000, features: { x: i }, ...r })),
  );
  return t.app;
}

async function label(app: TestApp['app'], labels: { request_id: string; label: number }[]) {
  const res = await postJson(
    app,
    '/v1/labels',
    labels.map((l) => ({ model: 'reg', ...l })),
  );
  return { status: res.status, body: (await res.json()) as LabelResult };
}

const perf = async (app: TestApp['app']) => (await runDriftOne(app, 'reg', RANGE)).performance;

describe('labels whose error overflows', () => {
  const records = [
    { request_id: 'big', prediction: 1e200 },
    { request_id: 'huge', prediction: 1 },
    { request_id: 'q0', prediction: 2 },
  ];

  it('are stored and reported as unscored, while the good labels of the batch are applied', async () => {
    const app = await setup(records);
    const res = await label(app, [
      { request_id: 'big', label: -1e200 },
      { request_id: 'huge', label: 1e308 },
      { request_id: 'q0', label: 1 },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.updated).toBe(3);
    expect(res.body.unscored).toEqual([
      {
        index: 0,
        model: 'reg',
        request_id: 'big',
        path: 'labels[0].label',
        message:
          'prediction 1e+200 and label -1e+200 differ by more than 1e+100; the label is stored but not scored',
      },
      {
        index: 1,
        model: 'reg',
        request_id: 'huge',
        path: 'labels[1].label',
        message:
          'prediction 1 and label 1e+308 differ by more than 1e+100; the label is stored but not scored',
      },
    ]);
    const stored = new Map((await storedRecords(app, 'reg')).map((r) => [r.request_id, r.label]));
    expect(Object.fromEntries(stored)).toEqual({ big: -1e200, huge: 1e308, q0: 1 });
    expect(await perf(app)).toMatchObject({ labeled: 1, mae: 1, rmse: 1 });
  });

  it('can be corrected later, in a batch with other corrections, without a 500', async () => {
    const app = await setup(records);
    expect(
      (
        await label(app, [
          { request_id: 'big', label: -1e200 },
          { request_id: 'huge', label: 1e308 },
        ])
      ).status,
    ).toBe(200);
    expect((await label(app, [{ request_id: 'q0', label: 1 }])).status).toBe(200);

    // big stays unscorable (any label is far from 1e200); huge becomes an error of −2; q0 moves to −1.
    const corrected = await label(app, [
      { request_id: 'big', label: 7 },
      { request_id: 'huge', label: 3 },
      { request_id: 'q0', label: 3 },
    ]);
    expect(corrected.status).toBe(200);
    expect(corrected.body.updated).toBe(3);
    expect(corrected.body.unscored.map((u) => u.path)).toEqual(['labels[0].label']);
    const after = await perf(app);
    expect(after).toMatchObject({ labeled: 2, mae: 1.5 });
    expect(after.rmse).toBeCloseTo(Math.sqrt(5 / 2), 12);

    // Back to an unscorable label: its earlier outcome is taken out again.
    expect((await label(app, [{ request_id: 'huge', label: -1e308 }])).status).toBe(200);
    expect(await perf(app)).toMatchObject({ labeled: 1, mae: 1, rmse: 1 });
  });

  it('arriving with the record at ingest are stored unscored, and a correction works', async () => {
    const app = await setup([
      { request_id: 'big', prediction: 1e200, label: -1e200 },
      { request_id: 'q0', prediction: 2, label: 1 },
    ]);
    expect(await perf(app)).toMatchObject({ labeled: 1, mae: 1 });
    const res = await label(app, [
      { request_id: 'big', label: 1e200 },
      { request_id: 'q0', label: 4 },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.unscored).toEqual([]);
    // big: error 0 now; q0: error −2.
    expect(await perf(app)).toMatchObject({ labeled: 2, mae: 1 });
  });
});
